#!/usr/bin/env python3
"""Pipelining: requests sent in one write on one connection are answered in order, even when
the first is the slowest."""
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


if __name__ == "__main__":
    run(test)
