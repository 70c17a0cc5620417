#!/usr/bin/env python3
"""Clients that go away mid-request, mid-body, mid-response or while waiting: the balancer stays
up, keeps serving the others, and never hands the half-used upstream connection of an aborted
exchange to the next request (which would get someone else's bytes)."""
import socket
import struct
import threading
import time

from backend import deterministic_bytes
from harness import free_port, run, sha256, simple_config

ROUNDS = 10


def open_raw(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def abort(sock, reset):
    """Closes; `reset=True` sends a TCP RST (SO_LINGER 0) instead of a FIN."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Bystander:
    """Another client doing GETs on one keep-alive connection the whole time; each answer must
    be the right one."""

    def __init__(self, lb):
        self.lb = lb
        self.done = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        conn = self.lb.connection(timeout=10)
        i = 0
        while not self._stop.is_set():
            n = 1000 + i % 5000
            try:
                conn.request("GET", f"/bytes?n={n}")
                r = conn.getresponse()
                body = r.read()
                if (r.status, body) != (200, deterministic_bytes(n)):
                    self.errors.append(f"GET /bytes?n={n}: {r.status}, {len(body)} bytes")
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(f"GET /bytes?n={n}: {type(e).__name__}: {e}")
                conn.close()
                conn = self.lb.connection(timeout=10)
            self.done += 1
            i += 1
            time.sleep(0.01)
        conn.close()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=15)


def expect_follow_ups_correct(h, lb, what):
    """GETs of different sizes, on one client connection and on new ones: each body exact."""
    bad = []
    conn = lb.connection(timeout=10)
    for i in range(20):
        n = 10_000 + 7919 * i
        conn.request("GET", f"/bytes?n={n}")
        r = conn.getresponse()
        body = r.read()
        if (r.status, len(body), sha256(body)) != (200, n, sha256(deterministic_bytes(n))):
            bad.append(f"keep-alive GET n={n}: {r.status}, {len(body)} bytes")
    conn.close()
    for i in range(10):
        n = 333 + i
        r = lb.get(f"/bytes?n={n}&chunked=1", timeout=10)
        if (r.status, r.body) != (200, deterministic_bytes(n)):
            bad.append(f"GET n={n} chunked: {r.status}, {len(r.body)} bytes")
    h.expect_eq(bad, [], f"{what}: follow-up requests with wrong answers")


def test(h):
    backend = h.backend("a")
    port = free_port()
    # workers: 1 and one backend: every follow-up request meets the pool the aborts used.
    lb = h.balancer(simple_config(port, [backend.port], workers=1, request_timeout="10s",
                                  pool="{ max_idle: 16, idle_timeout: 30s }"), port)
    bystander = Bystander(lb)

    with h.step("disconnect after half the headers (FIN and RST)"):
        for i in range(ROUNDS):
            s = open_raw(port)
            s.sendall(b"GET /half-headers HTTP/1.1\r\nHost: x\r\nX-Partial: abc")
            time.sleep(0.02)
            abort(s, reset=i % 2 == 1)
        expect_follow_ups_correct(h, lb, "after half-header aborts")

    with h.step("upload cut off: 300 KiB of a 1 MiB body, then disconnect"):
        for i in range(ROUNDS):
            s = open_raw(port)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
            s.sendall(b"u" * 300 * 1024)
            time.sleep(0.05)
            abort(s, reset=i % 2 == 1)
        time.sleep(0.2)
        expect_follow_ups_correct(h, lb, "after upload aborts")

    with h.step("chunked upload cut off mid-chunk, then disconnect"):
        for i in range(ROUNDS):
            s = open_raw(port)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"10000\r\n" + b"c" * 30000)
            time.sleep(0.05)
            abort(s, reset=i % 2 == 1)
        time.sleep(0.2)
        expect_follow_ups_correct(h, lb, "after chunked upload aborts")

    for chunked in ("0", "1"):
        framing = "chunked" if chunked == "1" else "content-length"
        with h.step(f"download cut off ({framing}): 1 MiB read of 32 MiB, then disconnect"):
            for i in range(ROUNDS):
                s = open_raw(port)
                s.sendall(b"GET /bytes?n=%d&chunked=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                          % (32 * 1024 * 1024, chunked.encode()))
                got = 0
                while got < 1024 * 1024:
                    piece = s.recv(65536)
                    if not piece:
                        break
                    got += len(piece)
                abort(s, reset=i % 2 == 1)
            time.sleep(0.2)
            expect_follow_ups_correct(h, lb, f"after {framing} download aborts")

    with h.step("disconnect while the backend is still working on the answer (300 ms): its "
                "late answer is not given to the next request"):
        for i in range(ROUNDS):
            s = open_raw(port)
            s.sendall(b"GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.05)
            abort(s, reset=i % 2 == 1)
        time.sleep(0.5)                         # the late answers arrive now
        expect_follow_ups_correct(h, lb, "after aborts while waiting")
        r = lb.get("/after-wait-abort", timeout=10)
        h.expect_eq((r.status, r.json().get("path") if r.status == 200 else None),
                    (200, "/after-wait-abort"), "(status, path the answer is for)")

    with h.step("the other client was served correctly throughout"):
        bystander.stop()
        print(f"   bystander: {bystander.done} requests")
        h.expect_eq(bystander.errors, [], "bystander errors")
        h.expect(bystander.done > 20, f"bystander made only {bystander.done} requests")
        h.expect(lb.alive(), "the balancer died")


if __name__ == "__main__":
    run(test)
