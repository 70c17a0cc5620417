#!/usr/bin/env python3
"""Caps an operator sets: a route's own body size limit, and connections per worker."""
import socket
import time

from harness import RawConnection, run, simple_config


def test(h):
    backend = h.backend("a")
    cfg = simple_config(0, [backend.port], workers=1,
                        extra_top="limits: { max_connections_per_worker: 3 }")
    cfg += "  - match: { path_prefix: /upload }\n    upstream: app\n    max_body_size: 1KiB\n"
    lb = h.balancer(cfg)
    port = lb.port

    with h.step("a body over the route's max_body_size gets 413, by length or chunked"):
        r = lb.request("POST", "/upload", body=b"x" * 2048)
        h.expect_error_json(r, 413, "Content-Length over the limit")
        before = backend.stats()["requests"]
        r = lb.request("POST", "/upload", body=b"y" * 4096, chunked=True)
        h.expect_error_json(r, 413, "chunked body over the limit")
        h.expect_eq(lb.request("POST", "/upload", body=b"z" * 512).status, 200, "under the limit")
        h.expect_eq(lb.request("POST", "/other", body=b"w" * 4096).status, 200,
                    "another route keeps the global limit")
        h.expect(backend.stats()["requests"] >= before + 2, "the small bodies reached the backend")

    with h.step("past max_connections_per_worker a new connection is closed at once"):
        held = [RawConnection(port) for _ in range(3)]
        for c in held:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            h.expect_eq(c.read_response().status, 200, "a held connection is served")
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = extra.recv(1024)
        except ConnectionResetError:
            data = b""
        h.expect_eq(data, b"", "the fourth connection gets no answer, only a close")
        extra.close()
        held.pop().close()
        time.sleep(0.3)
        c = RawConnection(port)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        h.expect_eq(c.read_response().status, 200, "after one left, a new one is served")
        c.close()
        for c in held:
            c.close()


if __name__ == "__main__":
    run(test)
