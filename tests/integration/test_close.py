#!/usr/bin/env python3
"""A client that asked to close (Connection: close, or HTTP/1.0 without keep-alive) and sent
nothing more: the balancer closes its end at once, without the half-close and wait for the
client's end (its connection count drops while the client still holds its socket). A client
that sent more than the request it asked to close after gets its answer whole, not a reset."""
import re
import socket
import time

from harness import free_port, http_request, run, simple_config


def read_to_eof(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


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
    port, admin_port = free_port(), free_port()
    lb = h.balancer(simple_config(port, [backend.port],
                                  extra_top=f"admin: {{ address: 127.0.0.1:{admin_port} }}"),
                    port)

    for name, request in (
            ("Connection: close", b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            ("HTTP/1.0", b"GET /c HTTP/1.0\r\n\r\n")):
        with h.step(f"{name}: answered, then closed at once while the client keeps its end"):
            with socket.create_connection(("127.0.0.1", lb.port)) as s:
                s.sendall(request)
                answer = read_to_eof(s)
                h.expect(answer.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")),
                         f"status line {answer[:30]!r}")
                # A lingering close would hold it for 2 s; the bound is well under that.
                h.expect(wait_connections(admin_port, 0, 1.0),
                         f"client connections 0 within 1 s (a linger is 2 s) while the client "
                         f"still holds its socket (now {client_connections(admin_port)})")

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
