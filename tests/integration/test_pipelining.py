#!/usr/bin/env python3
"""Pipelining: requests sent in one write on one connection are answered in order, even when
the first is the slowest."""
import time

from harness import run, simple_config


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], workers=1))

    with h.step("three GETs in one write -> three answers in order"):
        conn = lb.raw(timeout=10)
        conn.send(b"GET /slow?ms=300&n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /slow?ms=0&n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /third?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
        paths = [conn.read_response(10).json()["path"] for _ in range(3)]
        conn.close()
        h.expect_eq(paths, ["/slow?ms=300&n=1", "/slow?ms=0&n=2", "/third?n=3"],
                    "paths, in answer order")

    with h.step("a POST with a body between two GETs, the last one closing"):
        conn = lb.raw(timeout=10)
        conn.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                  b"POST /echo?chunked=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n0\r\n\r\n"
                  b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = [conn.read_response(10) for _ in range(4)]
        h.expect_eq(answers[0].json()["path"], "/a", "1st answer")
        h.expect_eq(answers[1].body, b"hello world", "2nd answer (echo)")
        h.expect_eq(answers[2].body, b"hello", "3rd answer (chunked echo)")
        h.expect_eq(answers[3].json()["path"], "/b", "4th answer")
        h.expect(conn.wait_closed(3), "connection open 3 s after answering Connection: close")
        conn.close()

    with h.step("what a connection closed on a bad request left unread is not the next one's"):
        # The memory of an exchange (with the input read past it) is a slot that goes back to
        # the worker's pool when its connection closes, and the next connection may get it.
        bad = lb.raw(timeout=10)
        bad.send(b"GET /slow?ms=100&n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /m HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"
                 b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        h.expect_eq(bad.read_response(10).status, 200, "the good request before the bad one")
        h.expect_eq(bad.read_response(10).status, 400, "the bad one")
        h.expect(bad.wait_closed(3), "closed after the 400")
        bad.close()
        time.sleep(0.2)
        for n in range(3):
            conn = lb.raw(timeout=10)
            conn.send(b"GET /next?n=%d HTTP/1.1\r\nHost: x\r\n" % n)
            time.sleep(0.05)
            conn.send(b"\r\n")
            h.expect_eq(conn.read_response(5).json()["path"], f"/next?n={n}", "its own answer")
            h.expect(conn.stays_quiet(0.3), "nothing else answered, the connection kept")
            conn.close()


if __name__ == "__main__":
    run(test)
