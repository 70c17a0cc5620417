#!/usr/bin/env python3
"""HTTP/1.1 message semantics through the balancer: HEAD, 204 and 304 have no body and leave the
connection usable; HTTP/1.0 clients get close or keep-alive as they asked; Expect: 100-continue
works; a backend body that ends at close reaches an HTTP/1.1 client re-chunked."""
import os
import subprocess
import time

from backend import deterministic_bytes
from harness import run, sha256, simple_config


def get(conn, path, version="HTTP/1.1", extra=b""):
    conn.send(b"GET %s %s\r\nHost: x\r\n%s\r\n" % (path.encode(), version.encode(), extra))
    return conn.read_response(10)


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], request_timeout="10s"))

    for framing in ("0", "1"):
        label = "chunked" if framing == "1" else "content-length"
        with h.step(f"HEAD ({label} GET): the GET's headers, no body, keep-alive still usable"):
            path = f"/bytes?n=5000&chunked={framing}"
            full = lb.get(path)
            conn = lb.raw()
            conn.send(b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            head = conn.read_response(10, head=True)
            h.expect_eq(head.status, 200, "HEAD status")
            if framing == "0":
                h.expect_eq(head.header("Content-Length"), full.header("Content-Length"),
                            "HEAD Content-Length vs the GET's")
            h.expect_eq(head.header("X-Backend"), "a", "X-Backend on the HEAD answer")
            h.expect(conn.stays_quiet(), f"bytes after the HEAD answer: {conn.buf[:100]!r} "
                                          f"(closed: {conn.closed})")
            r = get(conn, "/bytes?n=777")
            h.expect_eq((r.status, r.body), (200, deterministic_bytes(777)),
                        "GET on the same connection after HEAD")
            conn.close()

    with h.step("204 and 304: no body, the connection stays usable"):
        conn = lb.raw()
        for path, status in (("/status?code=204", 204), ("/status?code=304", 304),
                             ("/status?code=204", 204)):
            r = get(conn, path)
            h.expect_eq(r.status, status, f"GET {path}: status")
            h.expect_eq(r.header("Transfer-Encoding"), None, f"GET {path}: Transfer-Encoding")
            h.expect(conn.stays_quiet(), f"GET {path}: bytes after the head: "
                                          f"{conn.buf[:100]!r} (closed: {conn.closed})")
        r = get(conn, "/bytes?n=100")
        h.expect_eq((r.status, r.body), (200, deterministic_bytes(100)),
                    "GET on the same connection afterwards")
        conn.close()

    with h.step("a 204's Content-Length is not forwarded (RFC 9110 section 8.6)"):
        conn = lb.raw()
        r = get(conn, "/status?code=204&length=0")
        h.expect_eq(r.status, 204, "status")
        h.expect_eq(r.header("Content-Length"), None, "Content-Length on the 204")
        conn.close()

    with h.step("a 304 with `Content-Length: 1234` (the resource's size) has no body either"):
        conn = lb.raw()
        r = get(conn, "/status?code=304&length=1234")
        h.expect_eq((r.status, r.header("Content-Length")), (304, "1234"),
                    "(status, Content-Length)")
        h.expect(conn.stays_quiet(), f"bytes after the head: {conn.buf[:100]!r} "
                                      f"(closed: {conn.closed})")
        conn.send(b"GET /bytes?n=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            r = conn.read_response(5)
            h.expect_eq((r.status, r.body), (200, deterministic_bytes(100)),
                        "GET on the same connection afterwards")
        except (TimeoutError, ConnectionError) as e:
            h.fail(f"GET /bytes?n=100 on the same connection after the 304: no answer ({e}); "
                   f"the balancer waits for 1234 body bytes a 304 never has")
        conn.close()

    with h.step("HTTP/1.0 without keep-alive: answered, then the connection is closed"):
        conn = lb.raw()
        r = get(conn, "/headers", "HTTP/1.0")
        h.expect_eq((r.status, r.json()["path"]), (200, "/headers"), "(status, path)")
        h.expect(conn.wait_closed(3), "connection still open 3 s after an HTTP/1.0 answer")
        conn.close()

    with h.step("HTTP/1.0 with Connection: keep-alive: the connection stays open"):
        conn = lb.raw()
        keep = b"Connection: keep-alive\r\n"
        r = get(conn, "/first", "HTTP/1.0", keep)
        h.expect_eq(r.status, 200, "first status")
        h.expect_eq((r.header("Connection") or "").lower(), "keep-alive", "Connection header")
        h.expect(r.header("Content-Length") is not None and r.header("Transfer-Encoding") is None,
                 f"an HTTP/1.0 answer framed by Content-Length: {r.header_list}")
        h.expect(conn.stays_quiet(), "connection closed (or extra bytes) after the answer")
        r = get(conn, "/second", "HTTP/1.0", keep)
        h.expect_eq((r.status, r.json()["path"]), (200, "/second"), "second request, same conn")
        # The backend answers chunked; an HTTP/1.0 client cannot read chunked.
        r = get(conn, "/bytes?n=100000&chunked=1", "HTTP/1.0", keep)
        h.expect_eq(r.header("Transfer-Encoding"), None, "Transfer-Encoding to an HTTP/1.0 client")
        h.expect_eq((r.status, len(r.body), sha256(r.body)),
                    (200, 100000, sha256(deterministic_bytes(100000))),
                    "(status, length, sha256) of a chunked backend answer to HTTP/1.0")
        conn.close()

    with h.step("Expect: 100-continue, raw socket: 100 first, then the echoed body"):
        data = os.urandom(100_000)
        conn = lb.raw()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  b"Expect: 100-continue\r\n\r\n" % len(data))
        try:
            interim = conn.read_response(3)
        except TimeoutError:
            interim = None
        h.expect(interim is not None and interim.status == 100,
                 f"no 100 Continue within 3 s of the head (got {interim!r})")
        conn.send(data)
        r = conn.read_response(10) if interim is not None and interim.status == 100 else interim
        h.expect_eq((r.status, r.header("X-Echo-Body-Sha256"), sha256(r.body)),
                    (200, sha256(data), sha256(data)), "(status, sha256 received, sha256 echoed)")
        conn.close()

    with h.step("Expect: 100-continue, curl: the body arrives intact, without curl's wait"):
        data = os.urandom(300_000)
        upload = h.dir / "upload.bin"
        upload.write_bytes(data)
        out = h.dir / "curl-out.bin"
        # curl 7.x sends Expect by itself for bodies over 1 KiB; said explicitly, so that it
        # does with any version. --expect100-timeout 30: without a 100, curl waits 30 s.
        start = time.monotonic()
        res = subprocess.run(["curl", "-sS", "-v", "--expect100-timeout", "30", "-o", str(out),
                              "-w", "%{http_code}", "-H", "Expect: 100-continue",
                              "-H", "Content-Type: application/octet-stream",
                              "--data-binary", f"@{upload}", f"http://127.0.0.1:{lb.port}/echo"],
                             capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - start
        h.expect_eq(res.stdout, "200", f"curl status (stderr tail {res.stderr[-300:]!r})")
        h.expect("< HTTP/1.1 100" in res.stderr, "curl saw no 100 Continue")
        h.expect(elapsed < 15, f"curl took {elapsed:.1f}s: it waited for a 100 (30 s)")
        h.expect_eq(sha256(out.read_bytes()) if out.exists() else None, sha256(data),
                    "sha256 of the echoed body")

    with h.step("a backend body ending at close reaches an HTTP/1.1 client re-chunked"):
        n = 300_000
        conn = lb.raw()
        r = get(conn, f"/unframed?n={n}")
        h.expect_eq(r.status, 200, "status")
        h.expect_eq((r.header("Transfer-Encoding") or "").lower(), "chunked",
                    "Transfer-Encoding of the answer")
        h.expect_eq((len(r.body), sha256(r.body)), (n, sha256(deterministic_bytes(n))),
                    "(length, sha256) of the body")
        r = get(conn, "/bytes?n=10")
        h.expect_eq((r.status, r.body), (200, deterministic_bytes(10)),
                    "the client connection is still usable afterwards")
        conn.close()

    with h.step("a backend body ending at close, to an HTTP/1.0 client: ends at close too"):
        conn = lb.raw()
        r = get(conn, "/unframed?n=5000", "HTTP/1.0", b"Connection: keep-alive\r\n")
        h.expect_eq((r.status, r.header("Transfer-Encoding"), r.body),
                    (200, None, deterministic_bytes(5000)), "(status, Transfer-Encoding, body)")
        h.expect(conn.wait_closed(3), "connection open 3 s after an unframed HTTP/1.0 answer")
        conn.close()


if __name__ == "__main__":
    run(test)
