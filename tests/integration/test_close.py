#!/usr/bin/env python3
"""A client that asked to close (Connection: close, or HTTP/1.0 without keep-alive) and sent
nothing more: the balancer closes its end at once, without the half-close and wait for the
client's end (its connection count drops while the client still holds its socket). A client
that sent more than the request it asked to close after gets its answer whole, not a reset."""
import re
import socket
import time

from harness import http_request, run, simple_config

LINGER_S = 1.5  # under the balancer's 2 s linger: a lingering close cannot end in between


def read_to_eof(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def reset_after_eof(sock, timeout=10):
    """After the peer's FIN: sends a byte and says whether the peer answers with a reset. A
    socket the balancer closed answers data with RST; one it only half-closed (the lingering
    close) reads and drops it, and no reset ever comes."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        sock.sendall(b"x")
        while time.monotonic() < deadline:  # the reset shows on the next send or recv
            time.sleep(0.05)
            sock.sendall(b"x")
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def client_connections(admin_port):
    text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
    m = re.search(r"^balancer_client_connections(?:\{[^}]*\})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def wait_connections(admin_port, want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client_connections(admin_port) == want:
            return True
        time.sleep(0.02)
    return False


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port],
                                  extra_top="admin: { address: 127.0.0.1:0 }"))
    admin_port = lb.admin_port

    for name, request in (
            ("Connection: close", b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            ("HTTP/1.0", b"GET /c HTTP/1.0\r\n\r\n")):
        with h.step(f"{name}: answered, then closed at once while the client keeps its end"):
            with socket.create_connection(("127.0.0.1", lb.port)) as s:
                s.sendall(request)
                answer = read_to_eof(s)
                h.expect(answer.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")),
                         f"status line {answer[:30]!r}")
                # Closed, not half-closed and waiting for the client (a linger, 2 s): the
                # balancer's socket is gone, so a byte sent to it is answered with a reset.
                h.expect(reset_after_eof(s, timeout=LINGER_S),
                         "a byte sent after the answer is reset (the balancer's end is closed, "
                         "not lingering)")
                h.expect(wait_connections(admin_port, 0, 10),
                         f"client connections 0 while the client still holds its socket "
                         f"(now {client_connections(admin_port)})")

    with h.step("Connection: close with a second request behind it: the first answer whole"):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", lb.port)) as s:
                s.sendall(b"GET /bytes?n=200000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          b"GET /more HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = read_to_eof(s)
                head, _, body = answer.partition(b"\r\n\r\n")
                h.expect(head.startswith(b"HTTP/1.1 200 "), f"status line {head[:30]!r}")
                h.expect_eq(len(body), 200000, "body bytes received before the close")
                h.expect("GET /more" not in backend.stats()["by_path"], "second request not sent")


if __name__ == "__main__":
    run(test)
