#!/usr/bin/env python3
"""Bad requests: 400 JSON and the connection closed; headers over the limits -> 431; a body
over max_body_size -> 413. Requests inside the limits still pass."""
import os

from harness import exchange, run, sha256, simple_config

LIMITS = "limits: { max_header_bytes: 8192, max_headers: 20, max_body_size: 1MiB }"


def expect_400_and_close(h, lb, data, what):
    resp, closed, rest = exchange(lb.port, data, timeout=3)
    if not h.expect(resp is not None, f"{what}: no HTTP response (received {rest[:200]!r})"):
        return
    h.expect_error_json(resp, 400, what)
    h.expect(closed, f"{what}: connection still open 3 s after the 400")


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], extra_top=LIMITS))

    with h.step("a header line without a colon -> 400, connection closed"):
        expect_400_and_close(h, lb, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                             "header without colon")

    with h.step("garbage bytes -> 400, connection closed"):
        expect_400_and_close(h, lb, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
                             "binary garbage")
        expect_400_and_close(h, lb, b"HELLO THERE\r\n\r\n", "not a request line")
        expect_400_and_close(h, lb, b"GET /lf HTTP/1.1\nHost: x\r\n\r\n",
                             "a request line ended by a bare LF")

    with h.step("a bad Content-Length -> 400, connection closed"):
        expect_400_and_close(h, lb, b"POST /badcl HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
                                    b"\r\n", "non-numeric Content-Length")
        expect_400_and_close(h, lb, b"POST /badcl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    b"Content-Length: 6\r\n\r\nhello!", "two Content-Lengths")

    with h.step("a malformed request after a good one on the same connection"):
        conn = lb.raw(timeout=5)
        conn.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        first = conn.read_response(5)
        h.expect_eq(first.status, 200, "first (good) request")
        conn.send(b"GET /second HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        second = conn.read_response(5)
        h.expect_error_json(second, 400, "second (malformed) request")
        h.expect(conn.wait_closed(3), "connection still open 3 s after the 400")
        conn.close()

    with h.step("one header over max_header_bytes -> 431"):
        big = b"X-Big: " + b"a" * 12000 + b"\r\n"
        resp, _, rest = exchange(lb.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        if h.expect(resp is not None, f"no HTTP response (received {rest[:200]!r})"):
            h.expect_error_json(resp, 431, "12 KB header")

    with h.step("more headers than max_headers -> 431"):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
        resp, _, rest = exchange(lb.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        if h.expect(resp is not None, f"no HTTP response (received {rest[:200]!r})"):
            h.expect_error_json(resp, 431, "30 headers")

    with h.step("headers inside the limits pass"):
        headers = {f"X-H{i}": "v" for i in range(10)}
        headers["X-Medium"] = "m" * 5000
        r = lb.get("/inside", headers=headers)
        h.expect_eq(r.status, 200, "status")

    with h.step("Content-Length over max_body_size -> 413 (before the body is sent)"):
        resp, _, rest = exchange(lb.port, b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Length: 2097152\r\n\r\n", timeout=5)
        if h.expect(resp is not None, f"no HTTP response (received {rest[:200]!r})"):
            h.expect_error_json(resp, 413, "2 MiB Content-Length")
        n = backend.stats()["by_path"].get("POST /echo", 0)
        h.expect_eq(n, 0, "oversized POSTs that reached the backend")

    with h.step("a body of exactly max_body_size passes"):
        data = os.urandom(1024 * 1024)
        r = lb.request("POST", "/echo", body=data)
        h.expect_eq((r.status, sha256(r.body)), (200, sha256(data)), "(status, sha256 of echo)")


if __name__ == "__main__":
    run(test)
