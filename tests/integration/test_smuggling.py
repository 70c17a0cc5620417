#!/usr/bin/env python3
"""Request smuggling: each ambiguous framing or header shape gets 400 (JSON) and the connection
closed, and the backend never sees the request smuggled in the bytes after it, nor, when the
shape is in the head, the request that carries it. Each shape is sent with a warm upstream pool
(a pooled keep-alive connection is where a forwarded head would go out at once). A well-formed
pipelined pair on the same kind of socket is answered twice, so the checks fail for the right
reason."""
import time

from harness import exchange, run, simple_config

SETTLE = 0.3  # seconds for anything the balancer sent upstream to reach the backend's stats


def smuggled(name):
    return b"GET /smuggled-%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode()


def head(name, lines, method=b"POST"):
    """A request head for /first-NAME with the given header lines (bytes, CRLF added)."""
    return (method + b" /first-%s HTTP/1.1\r\nHost: x\r\n" % name.encode()
            + b"".join(line + b"\r\n" for line in lines) + b"\r\n")


# name -> (bytes before the smuggled request, whether the shape is in the head)
SHAPES = {
    "cl-te": (head("cl-te", [b"Content-Length: 5", b"Transfer-Encoding: chunked"])
              + b"0\r\n\r\n", True),
    "te-cl": (head("te-cl", [b"Transfer-Encoding: chunked", b"Content-Length: 5"])
              + b"0\r\n\r\n", True),
    "two-cl": (head("two-cl", [b"Content-Length: 0", b"Content-Length: 5"]) + b"hello", True),
    "te-gzip": (head("te-gzip", [b"Transfer-Encoding: gzip"]), True),
    "te-chunked-gzip": (head("te-chunked-gzip", [b"Transfer-Encoding: chunked, gzip"])
                        + b"0\r\n\r\n", True),
    "bad-chunk-size": (head("bad-chunk-size", [b"Transfer-Encoding: chunked"])
                       + b"zz\r\nhello\r\n0\r\n\r\n", False),
    "chunk-size-overflow": (head("chunk-size-overflow", [b"Transfer-Encoding: chunked"])
                            + b"10000000000000005\r\nhello\r\n0\r\n\r\n", False),
    "obs-fold": (head("obs-fold", [b"X-Folded: a", b" b"], b"GET"), True),
    "space-before-colon": (head("space-before-colon", [b"Transfer-Encoding : chunked"])
                           + b"0\r\n\r\n", True),
    "nul-in-value": (head("nul-in-value", [b"X-Nul: a\x00b"], b"GET"), True),
    "bare-cr-in-value": (head("bare-cr-in-value", [b"X-Cr: a\rb"], b"GET"), True),
}


def seen(backend):
    """The backend's request counts: {"METHOD /path": n}."""
    return backend.stats()["by_path"]


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], workers=1))

    with h.step("control: a well-formed pipelined pair on one raw socket -> two answers"):
        conn = lb.raw(timeout=5)
        conn.send(b"POST /pair-one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n0\r\n\r\n"
                  b"GET /pair-two HTTP/1.1\r\nHost: x\r\n\r\n")
        first = conn.read_response(5)
        second = conn.read_response(5)
        conn.close()
        h.expect_eq((first.status, first.json()["path"], first.json()["body_length"]),
                    (200, "/pair-one", 5), "first answer (status, path, body length)")
        h.expect_eq((second.status, second.json()["path"]), (200, "/pair-two"), "second answer")
        time.sleep(SETTLE)
        by_path = seen(backend)
        h.expect_eq((by_path.get("POST /pair-one"), by_path.get("GET /pair-two")), (1, 1),
                    "requests the backend saw (POST /pair-one, GET /pair-two)")

    for name, (data, in_head) in SHAPES.items():
        with h.step(f"{name} + a smuggled GET -> 400, closed, backend sees "
                    f"{'neither request' if in_head else 'no smuggled request'}"):
            warm = lb.get(f"/warm-{name}")  # leaves a keep-alive connection in the pool
            h.expect_eq(warm.status, 200, "warm-up request")
            payload = data + smuggled(name)
            resp, closed, rest = exchange(lb.port, payload, timeout=3)
            if h.expect(resp is not None, f"no HTTP response to {payload!r} "
                                          f"(received {rest[:300]!r}, closed: {closed})"):
                h.expect_error_json(resp, 400, name)
                h.expect(closed, "connection still open 3 s after the answer")
                h.expect_eq(rest, b"", "bytes after the first answer")
            time.sleep(SETTLE)
            by_path = seen(backend)
            h.expect_eq(by_path.get(f"GET /smuggled-{name}", 0), 0,
                        f"smuggled requests the backend saw (all it saw: {by_path})")
            if in_head:
                method = payload.split(b" ", 1)[0].decode()
                h.expect_eq(by_path.get(f"{method} /first-{name}", 0), 0,
                            f"rejected requests the backend saw (all it saw: {by_path})")

    with h.step("nothing smuggled reached the backend, whatever path"):
        by_path = seen(backend)
        leaked = {k: v for k, v in by_path.items() if "/smuggled" in k}
        h.expect_eq(leaked, {}, "smuggled requests the backend saw")


if __name__ == "__main__":
    run(test)
