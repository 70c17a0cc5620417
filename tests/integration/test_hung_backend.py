#!/usr/bin/env python3
"""request_timeout: a backend that never answers gives 504 in about request_timeout."""
from harness import free_port, run, simple_config


def test(h):
    backend = h.backend("a")
    port = free_port()
    lb = h.balancer(simple_config(port, [backend.port], request_timeout="1s", retries=1), port)

    with h.step("GET /hang -> 504 JSON within 1-3 s"):
        r = lb.get("/hang?s=20", timeout=10)
        h.expect_error_json(r, 504, "GET /hang")
        h.expect(0.9 <= r.elapsed <= 3.0, f"504 came after {r.elapsed:.2f}s (expected 1-3 s)")

    with h.step("a slow answer within request_timeout is not cut"):
        r = lb.get("/slow?ms=400", timeout=10)
        h.expect_eq(r.status, 200, "status")

    with h.step("the balancer still proxies normally afterwards"):
        statuses = [lb.get(f"/after/{i}", timeout=5).status for i in range(5)]
        h.expect_eq(statuses, [200] * 5, "statuses")


if __name__ == "__main__":
    run(test)
