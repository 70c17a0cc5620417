#!/usr/bin/env python3
"""Backpressure: a 64 MiB upload to a backend that reads slowly and a 64 MiB download read
slowly by the client both arrive byte for byte, and the balancer's memory stays flat: it stops
reading one side while the other side's queue is full instead of buffering whole bodies."""
import hashlib
import os
import socket
import threading
import time

from backend import deterministic_bytes
from harness import run, sha256, simple_config

MIB = 1024 * 1024
SIZE = 64 * MIB
# Over the idle RSS. Measured: under 1 MiB (a few queued 64 KiB reads per side); a balancer
# that buffered even an eighth of a 64 MiB body would pass it.
MAX_GROWTH = 8 * MIB
# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) before it is
# reused, so RSS grows with every byte that passes through: off for this test's balancer, so
# the limit measures what is held, not what was freed. (No effect on an unsanitized build.)
os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                    "quarantine_size_mb=0"]))
READ_RATE = 16 * MIB        # bytes per second the slow client reads


def rss(pid):
    """VmRSS of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Samples a process's RSS every 50 ms in a thread, keeping the highest value."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss(self.pid))
            except (OSError, RuntimeError):
                return

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        return self.peak


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], workers=2, request_timeout="60s"))
    data = deterministic_bytes(SIZE)
    for i in range(4):                          # warm up: buffers, pools, both workers
        lb.request("POST", "/echo", body=data[:MIB], timeout=10)
    idle = rss(lb.pid)
    print(f"   idle RSS {idle / MIB:.1f} MiB")

    with h.step("64 MiB upload to a backend reading 64 KiB every 4 ms: intact, RSS flat"):
        peak = PeakRss(lb.pid)
        start = time.monotonic()
        r = lb.request("POST", "/slowread?ms=4&chunk=65536", body=data, timeout=60)
        elapsed = time.monotonic() - start
        top = peak.stop()
        print(f"   {elapsed:.1f}s, peak RSS {top / MIB:.1f} MiB (+{(top - idle) / MIB:.1f})")
        h.expect_eq(r.status, 200, f"status (body {r.body[:200]!r})")
        if r.status == 200:
            h.expect_eq(r.json(), {"length": SIZE, "sha256": sha256(data)},
                        "what the backend received")
        h.expect(top - idle < MAX_GROWTH, f"RSS grew by {(top - idle) / MIB:.1f} MiB during the "
                                          f"upload (limit {MAX_GROWTH / MIB:.0f} MiB)")

    with h.step(f"64 MiB download read at {READ_RATE // MIB} MiB/s by the client: intact, "
                f"RSS flat"):
        peak = PeakRss(lb.pid)
        conn = lb.raw(timeout=30)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        conn.send(b"GET /bytes?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % SIZE)
        start = time.monotonic()
        received = bytearray()
        while time.monotonic() - start < 60:
            ahead = len(received) / READ_RATE - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
            piece = conn.sock.recv(256 * 1024)
            if not piece:
                break
            received += piece
        elapsed = time.monotonic() - start
        conn.close()
        top = peak.stop()
        print(f"   {elapsed:.1f}s, peak RSS {top / MIB:.1f} MiB (+{(top - idle) / MIB:.1f})")
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        h.expect(head.startswith(b"HTTP/1.1 200"), f"status line: {head[:40]!r}")
        h.expect_eq((len(body), hashlib.sha256(body).hexdigest()), (SIZE, sha256(data)),
                    "(length, sha256) of the body")
        h.expect(top - idle < MAX_GROWTH, f"RSS grew by {(top - idle) / MIB:.1f} MiB during the "
                                          f"download (limit {MAX_GROWTH / MIB:.0f} MiB)")


if __name__ == "__main__":
    run(test)
