#!/usr/bin/env python3
"""request_timeout: a backend that never answers gives 504 in about request_timeout."""
from harness import run, simple_config


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], request_timeout="1s", retries=1))

    with h.step("GET /hang -> 504 JSON after request_timeout (1 s), well before the backend's "
                "20 s"):
        r = lb.get("/hang?s=20", timeout=30)
        h.expect_error_json(r, 504, "GET /hang")
        # Not before the timeout; the upper bound is wide for a loaded machine, yet far below
        # the 20 s the backend hangs for.
        h.expect(0.95 <= r.elapsed <= 10.0, f"504 came after {r.elapsed:.2f}s (expected 1-10 s)")

    with h.step("a slow answer within request_timeout is not cut"):
        r = lb.get("/slow?ms=400", timeout=10)
        h.expect_eq(r.status, 200, "status")

    with h.step("the balancer still proxies normally afterwards"):
        statuses = [lb.get(f"/after/{i}", timeout=5).status for i in range(5)]
        h.expect_eq(statuses, [200] * 5, "statuses")


if __name__ == "__main__":
    run(test)
