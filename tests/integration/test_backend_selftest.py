#!/usr/bin/env python3
"""The test tooling itself (backend.py, ws_server.js, ws_client.js, the raw parser), without the
balancer: when this fails, the other integration tests' results mean nothing."""
import http.client
import os

from harness import RawConnection, http_request, run, sha256
from backend import deterministic_bytes


def test(h):
    b = h.backend("self")

    with h.step("echo: content-length and chunked request bodies, both response framings"):
        data = os.urandom(300_000)
        for chunked_req in (False, True):
            for chunked_resp in ("0", "1"):
                r = b.request("POST", f"/echo?chunked={chunked_resp}", body=data,
                              chunked=chunked_req)
                h.expect_eq((r.status, sha256(r.body)), (200, sha256(data)),
                            f"echo chunked_req={chunked_req} chunked_resp={chunked_resp}")
                h.expect_eq(r.header("X-Backend"), "self", "X-Backend")
        r = b.request("GET", "/echo", body=b"", chunked=True)
        h.expect_eq((r.status, r.body), (200, b""), "empty chunked body")

    with h.step("bytes, headers, stats"):
        r = b.request("GET", "/bytes?n=100000&chunked=1")
        h.expect_eq(r.body, deterministic_bytes(100000), "/bytes chunked")
        r = b.request("GET", "/some/path?q=1", headers={"X-Test": "yes"})
        info = r.json()
        h.expect_eq(info["path"], "/some/path?q=1", "path seen")
        h.expect(["X-Test", "yes"] in info["headers"], f"headers seen: {info['headers']}")
        before = b.stats()
        conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=5)
        for _ in range(20):
            http_request(b.port, "GET", "/x", conn=conn)
        conn.close()
        after = b.stats()
        h.expect_eq(after["connections"] - before["connections"], 2,
                    "one keep-alive connection for 20 requests, plus the /stats one")
        h.expect_eq(after["requests"] - before["requests"], 20, "requests counted")
        h.expect_eq(after["by_path"].get("GET /x"), 20, "by_path")

    with h.step("raw pipelining against the backend"):
        conn = RawConnection(b.port)
        conn.send(b"GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /echo?chunked=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                  b"Connection: close\r\n\r\nabc")
        paths = [conn.read_response().json()["path"], conn.read_response().json()["path"]]
        last = conn.read_response()
        h.expect_eq(paths, ["/slow?ms=200", "/a"], "pipelined order")
        h.expect_eq(last.body, b"abc", "chunked response parsed")
        h.expect(conn.wait_closed(3), "closed after Connection: close")
        conn.close()

    with h.step("status-only, unframed and slow-read endpoints"):
        conn = RawConnection(b.port)
        conn.send(b"GET /status?code=304&length=1234 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /status?code=204 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /bytes?n=50 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /unframed?n=70000 HTTP/1.1\r\nHost: x\r\n\r\n")
        r304, r204 = conn.read_response(), conn.read_response()
        head = conn.read_response(head=True)
        unframed = conn.read_response()
        h.expect_eq((r304.status, r304.header("Content-Length"), r304.body), (304, "1234", b""),
                    "304 with a Content-Length, no body")
        h.expect_eq((r204.status, r204.header("Content-Length"), r204.body), (204, None, b""),
                    "204")
        h.expect_eq((head.status, head.header("Content-Length"), head.body), (200, "50", b""),
                    "HEAD")
        h.expect_eq((unframed.header("Content-Length"), unframed.header("Transfer-Encoding"),
                     unframed.body), (None, None, deterministic_bytes(70000)),
                    "unframed body, ended by the close")
        conn.close()
        data = os.urandom(200_000)
        r = b.request("POST", "/slowread?ms=1&chunk=10000", body=data)
        h.expect_eq(r.json(), {"length": len(data), "sha256": sha256(data)}, "/slowread")

    with h.step("--max-requests-per-conn 2: the 3rd request on a connection is dropped"):
        m = h.backend("max2", max_requests_per_conn=2)
        conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=5)
        for i in range(2):
            h.expect_eq(http_request(m.port, "GET", f"/m{i}", conn=conn).status, 200, f"req {i}")
        try:
            http_request(m.port, "GET", "/m2", conn=conn)
            h.fail("the 3rd request was answered")
        except (http.client.HTTPException, OSError):
            pass
        conn.close()
        stats = m.stats()
        h.expect_eq((stats["requests"], stats["dropped"]), (2, 1), "(requests, dropped)")

    with h.step("--idle-close-ms 200: an idle connection is closed"):
        idle = h.backend("idle", idle_close_ms=200)
        conn = RawConnection(idle.port)
        conn.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        h.expect_eq(conn.read_response().status, 200, "status")
        h.expect(conn.wait_closed(3), "still open 3 s later")
        conn.close()

    with h.step("/die exits the process"):
        try:
            b.request("POST", "/die", body=b"bye", timeout=5)
            h.fail("/die answered")
        except Exception:  # the connection dies with the process
            pass
        h.expect(b.wait_exit(5) is not None, "backend still running after /die")

    with h.step("websocket echo, direct"):
        ws = h.ws_backend("wsself")
        res = h.node("ws_client.js", "--url", f"ws://127.0.0.1:{ws.port}/direct", "--texts", "3")
        h.expect_eq(res.returncode, 0, f"ws_client exit code (stdout {res.stdout} stderr "
                                       f"{res.stderr[-500:]})")


if __name__ == "__main__":
    run(test)
