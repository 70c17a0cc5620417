#!/usr/bin/env python3
"""Health checks: when every backend is down the balancer answers 503 at once (no hang), and
a backend that recovers gets traffic again."""
import time

from harness import free_port, run, simple_config

HEALTH = ("{ path: /health, interval: 300ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")


def poll_status(lb, want, timeout):
    """Polls GET until the status is `want`; returns (last response, seconds waited)."""
    start = time.monotonic()
    while True:
        r = lb.get("/poll", timeout=5)
        if r.status == want or time.monotonic() - start > timeout:
            return r, time.monotonic() - start
        time.sleep(0.1)


def test(h):
    a, b = h.backend("a"), h.backend("b")
    port = free_port()
    lb = h.balancer(simple_config(port, [a.port, b.port], health_check=HEALTH,
                                  request_timeout="10s"), port)

    with h.step("healthy backends serve"):
        r, waited = poll_status(lb, 200, 3)
        h.expect_eq(r.status, 200, f"status after {waited:.1f}s")

    with h.step("both backends report 503 on /health -> the balancer answers 503 quickly"):
        a.set_healthy(False)
        b.set_healthy(False)
        r, waited = poll_status(lb, 503, 3)
        print(f"   503 after {waited:.2f}s")
        h.expect_error_json(r, 503, "GET with every backend unhealthy")
        times = [lb.get(f"/down/{i}", timeout=5) for i in range(5)]
        h.expect_eq([t.status for t in times], [503] * 5, "statuses while all are down")
        slowest = max(t.elapsed for t in times)
        h.expect(slowest < 0.5, f"a 503 took {slowest:.2f}s (should not wait)")

    with h.step("one backend recovers -> it gets the traffic"):
        b.set_healthy(True)
        r, waited = poll_status(lb, 200, 3)
        h.expect_eq((r.status, r.header("X-Backend")), (200, "b"),
                    f"(status, backend) after {waited:.1f}s")
        seen = {lb.get(f"/up/{i}").header("X-Backend") for i in range(6)}
        h.expect_eq(seen, {"b"}, "backends answering")

    with h.step("every backend process gone -> 503 quickly"):
        a.kill()
        b.kill()
        r, waited = poll_status(lb, 503, 3)
        print(f"   503 after {waited:.2f}s")
        h.expect_error_json(r, 503, "GET with every backend dead")
        r = lb.get("/dead", timeout=5)
        h.expect(r.status == 503 and r.elapsed < 1.5,
                 f"GET with every backend dead: {r.status} after {r.elapsed:.2f}s")


if __name__ == "__main__":
    run(test)
