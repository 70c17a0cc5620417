#!/usr/bin/env python3
"""A backend answering 502 or 503: an idempotent request without a body is sent to another
backend within `retries` (the contract's "on connect failure or 502/503"); a POST, a request
with a body, `retries: 0`, or no other backend to try get the backend's own answer unchanged."""
from collections import Counter

from harness import http_request, run, simple_config


def outcomes(lb, n, method="GET", path="/r", body=None):
    seen = Counter()
    for i in range(n):
        r = lb.request(method, f"{path}/{i}", body=body, timeout=10)
        seen[(r.status, r.header("X-Backend"))] += 1
    return dict(seen)


def test(h):
    a, b = h.backend("a"), h.backend("b")
    lb = h.balancer(simple_config(0, [a.port, b.port], retries=1))

    with h.step("a answers 503: every GET and HEAD reaches b, on the first try or the retry"):
        a.request("POST", "/admin/fail?code=503")
        h.expect_eq(outcomes(lb, 20), {(200, "b"): 20}, "(status, backend) of 20 GETs")
        h.expect_eq(outcomes(lb, 6, "HEAD"), {(200, "b"): 6}, "(status, backend) of 6 HEADs")
        tried_on_a = sum(n for k, n in a.stats()["by_path"].items() if k.startswith(("GET /r",
                                                                                    "HEAD /r")))
        h.expect(tried_on_a >= 10, f"round robin sent a its share first ({tried_on_a} of 26)")

    with h.step("on one keep-alive connection, every request has its own retry"):
        conn = lb.connection(timeout=10)
        seen = Counter()
        for i in range(10):
            r = http_request(lb.port, "GET", f"/ka/{i}", conn=conn)
            seen[(r.status, r.header("X-Backend"))] += 1
        conn.close()
        h.expect_eq(dict(seen), {(200, "b"): 10}, "(status, backend) of 10 GETs on one connection")

    with h.step("a answers 502: the same"):
        a.request("POST", "/admin/fail?code=502")
        h.expect_eq(outcomes(lb, 10), {(200, "b"): 10}, "(status, backend) of 10 GETs")

    with h.step("a POST or a PUT with a body is not retried: a's 502 reaches the client"):
        seen = outcomes(lb, 10, "POST", "/p", body=b"x" * 64)
        h.expect_eq(seen, {(502, "a"): 5, (200, "b"): 5}, "(status, backend) of 10 POSTs")
        seen = outcomes(lb, 10, "PUT", "/u", body=b"x" * 64)
        h.expect_eq(seen, {(502, "a"): 5, (200, "b"): 5}, "(status, backend) of 10 PUTs")

    with h.step("a 500 is the backend's answer, not retried"):
        a.request("POST", "/admin/fail?code=500")
        h.expect_eq(outcomes(lb, 10), {(500, "a"): 5, (200, "b"): 5}, "(status, backend)")

    with h.step("both answer 503: the second backend's 503 reaches the client as it is"):
        a.request("POST", "/admin/fail?code=503")
        b.request("POST", "/admin/fail?code=503")
        r = lb.get("/both", timeout=10)
        h.expect_eq((r.status, r.body), (503, b"failing on purpose"), "the backend's own 503")
        before = sum(x.stats()["by_path"].get("GET /both2", 0) for x in (a, b))
        lb.get("/both2", timeout=10)
        after = sum(x.stats()["by_path"].get("GET /both2", 0) for x in (a, b))
        h.expect_eq(after - before, 2, "tries of one GET with retries: 1 (one retry, no more)")

    c = h.backend("c")
    lb2 = h.balancer(simple_config(0, [c.port], retries=2))
    with h.step("one backend only: its 503 comes back unchanged, not turned into a 502"):
        c.request("POST", "/admin/fail?code=503")
        r = lb2.get("/only", timeout=10)
        h.expect_eq((r.status, r.header("X-Backend"), r.body),
                    (503, "c", b"failing on purpose"), "(status, backend, body)")
        h.expect_eq(c.stats()["by_path"].get("GET /only", 0), 1, "tries of the GET")

    d, e = h.backend("d"), h.backend("e")
    lb3 = h.balancer(simple_config(0, [d.port, e.port], retries=0))
    with h.step("retries: 0: a 503 is not retried"):
        d.request("POST", "/admin/fail?code=503")
        h.expect_eq(outcomes(lb3, 10), {(503, "d"): 5, (200, "e"): 5}, "(status, backend)")


if __name__ == "__main__":
    run(test)
