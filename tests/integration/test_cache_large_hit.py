#!/usr/bin/env python3
"""Hits of cached objects larger than one chunk (16 KiB) and one pull (64 KiB): the balancer
writes them from the stored object's memory, several pieces per write, or, for bodies of
64 KiB and more announced by Content-Length (kept in a memfd), with sendfile over plain TCP.
Every byte must arrive in order, for a fast client, a client that reads slowly (backpressure,
kernel buffers full), keep-alive hits back to back on one connection, a Range, an object
stored from a chunked origin response. Whether sendfile carried a hit shows in the balancer's
rchar (/proc/PID/io), which counts the bytes sendfile reads and not the bytes written from
memory."""
import hashlib
import re
import socket
import time

from backend import deterministic_bytes
from harness import http_request, run

SIZES = (20000, 65536, 65537, 300000, 1000000)


def config(app_port):
    return f"""\
workers: 1
shutdown_timeout: 2s
cache_zones:
  edge: {{ memory: 16MiB, max_object: 2MiB }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{app_port}, weight: 1 }}
routes:
  - match: {{ path_prefix: /bytes }}
    upstream: app
    cache: {{ zone: edge, default_ttl: 60s }}
"""


def slow_get(port, path, pause=0.002, piece=4096):
    """A GET read `piece` bytes at a time with a small receive buffer: the balancer's writes
    fill the socket and it has to wait for the client to drain. Returns (head, body)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = bytearray()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = s.recv(piece)
            if not got:
                break
            data += got
            time.sleep(pause)
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        return head.decode("latin-1"), body
    finally:
        s.close()


def test(h):
    app = h.backend("app")
    lb = h.balancer(config(app.port))

    with h.step("MISS then HIT: every size's body whole and in order"):
        for n in SIZES:
            want = deterministic_bytes(n)
            first = lb.get(f"/bytes?n={n}")
            h.expect_eq((first.status, first.header("X-Cache")), (200, "MISS"), f"{n}: miss")
            for i in range(3):
                r = lb.get(f"/bytes?n={n}")
                h.expect_eq((r.status, r.header("X-Cache")), (200, "HIT"), f"{n}: hit {i}")
                h.expect(r.body == want, f"{n}: hit {i} body ({len(r.body)} bytes)")

    with h.step("keep-alive: hits back to back on one connection"):
        conn = lb.connection(timeout=10)
        try:
            for n in SIZES * 2:
                r = http_request(lb.port, "GET", f"/bytes?n={n}", conn=conn)
                h.expect_eq(r.header("X-Cache"), "HIT", f"{n}: X-Cache")
                h.expect(r.body == deterministic_bytes(n), f"{n}: body on the shared connection")
        finally:
            conn.close()

    with h.step("a slow reader of a 1 MB hit gets every byte"):
        n = 1000000
        head, body = slow_get(lb.port, f"/bytes?n={n}", pause=0.001, piece=16384)
        h.expect("\r\nX-Cache: HIT" in head, f"head: {head!r}")
        h.expect_eq(len(body), n, "bytes")
        h.expect_eq(hashlib.sha256(body).hexdigest(),
                    hashlib.sha256(deterministic_bytes(n)).hexdigest(), "sha256")

    with h.step("a Range of a hit across chunk boundaries"):
        n = 300000
        r = lb.get(f"/bytes?n={n}", headers={"Range": "bytes=16000-200000"})
        h.expect_eq((r.status, r.header("X-Cache")), (206, "HIT"), "206 from the cache")
        h.expect(r.body == deterministic_bytes(n)[16000:200001], f"range body ({len(r.body)})")

    with h.step("hits of 64 KiB and more go out with sendfile, smaller ones from memory"):
        def rchar():
            with open(f"/proc/{lb.proc.pid}/io") as f:
                return int(re.search(r"^rchar: (\d+)$", f.read(), re.M).group(1))
        for n, sendfile in ((20000, False), (65536, True), (300000, True)):
            conn = lb.connection(timeout=10)
            try:
                before = rchar()
                for _ in range(10):
                    r = http_request(lb.port, "GET", f"/bytes?n={n}", conn=conn)
                    h.expect(r.body == deterministic_bytes(n), f"{n}: body")
                read = rchar() - before
            finally:
                conn.close()
            if sendfile:
                h.expect(read >= 10 * n, f"{n}: {read} bytes read for 10 hits: sendfile")
            else:
                h.expect(read < 10 * n, f"{n}: {read} bytes read for 10 hits: from memory")

    with h.step("an object stored from a chunked origin response"):
        n = 150000
        lb.get(f"/bytes?n={n}&chunked=1")
        r = lb.get(f"/bytes?n={n}&chunked=1")
        h.expect_eq(r.header("X-Cache"), "HIT", "X-Cache")
        h.expect(r.body == deterministic_bytes(n), f"body ({len(r.body)})")


if __name__ == "__main__":
    run(test)
