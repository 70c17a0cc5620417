#!/usr/bin/env python3
"""Health checks: when every backend is down the balancer answers 503 at once (no request reaches
a backend, no wait for one: well before request_timeout), and a backend that recovers gets
traffic again."""
import time

from harness import run, simple_config

HEALTH = ("{ path: /health, interval: 300ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")
REQUEST_TIMEOUT = 20.0
# A balancer that waited for a backend would answer at request_timeout; "at once" is anything
# far below it, with room for a loaded machine.
AT_ONCE = REQUEST_TIMEOUT / 4
WAIT = 15  # seconds to wait for a health change (checks every 300 ms)


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
    lb = h.balancer(simple_config(0, [a.port, b.port], health_check=HEALTH,
                                  request_timeout=f"{REQUEST_TIMEOUT:g}s"))

    with h.step("healthy backends serve"):
        r, waited = poll_status(lb, 200, WAIT)
        h.expect_eq(r.status, 200, f"status after {waited:.1f}s")

    with h.step("both backends report 503 on /health -> the balancer answers 503 quickly"):
        a.set_healthy(False)
        b.set_healthy(False)
        r, waited = poll_status(lb, 503, WAIT)
        print(f"   503 after {waited:.2f}s")
        h.expect_error_json(r, 503, "GET with every backend unhealthy")
        before = (a.stats()["proxied"], b.stats()["proxied"])
        times = [lb.get(f"/down/{i}", timeout=REQUEST_TIMEOUT + 5) for i in range(5)]
        h.expect_eq([t.status for t in times], [503] * 5, "statuses while all are down")
        h.expect_eq((a.stats()["proxied"], b.stats()["proxied"]), before,
                    "requests reaching (a, b) while both are down")
        slowest = max(t.elapsed for t in times)
        h.expect(slowest < AT_ONCE, f"a 503 took {slowest:.2f}s (should not wait for a "
                                    f"backend: request_timeout {REQUEST_TIMEOUT:g}s)")

    with h.step("one backend recovers -> it gets the traffic"):
        b.set_healthy(True)
        r, waited = poll_status(lb, 200, WAIT)
        h.expect_eq((r.status, r.header("X-Backend")), (200, "b"),
                    f"(status, backend) after {waited:.1f}s")
        seen = {lb.get(f"/up/{i}").header("X-Backend") for i in range(6)}
        h.expect_eq(seen, {"b"}, "backends answering")

    with h.step("every backend process gone -> 503 quickly"):
        a.kill()
        b.kill()
        r, waited = poll_status(lb, 503, WAIT)
        print(f"   503 after {waited:.2f}s")
        h.expect_error_json(r, 503, "GET with every backend dead")
        r = lb.get("/dead", timeout=REQUEST_TIMEOUT + 5)
        h.expect(r.status == 503 and r.elapsed < AT_ONCE,
                 f"GET with every backend dead: {r.status} after {r.elapsed:.2f}s (expected "
                 f"503 well before request_timeout {REQUEST_TIMEOUT:g}s)")


if __name__ == "__main__":
    run(test)
