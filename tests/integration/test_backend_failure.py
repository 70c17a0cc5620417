#!/usr/bin/env python3
"""A backend dies: requests whose connect it refuses are retried on the other one, whatever
their method; a POST in flight gets 502 and is not retried; the health check takes the dead
backend out of rotation."""
import time
from collections import Counter

from harness import run, simple_config

HEALTH = ("{ path: /health, interval: 300ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")


def backends_seen(lb, n, path="/get"):
    return Counter(lb.get(f"{path}/{i}", timeout=10).header("X-Backend") for i in range(n))


def wait_for_both(h, lb, names, timeout=3.0):
    """Until every backend has answered (health checks may start them as down)."""
    deadline = time.monotonic() + timeout
    seen = Counter()
    while time.monotonic() < deadline and not set(names) <= set(seen):
        seen += backends_seen(lb, 4, "/warmup")
        time.sleep(0.1)
    h.expect(set(names) <= set(seen), f"not every backend got traffic before the test: {seen}")


def test(h):
    # --- a backend killed with SIGKILL, health-checked upstream --------------------------------
    a, b = h.backend("a"), h.backend("b")
    lb = h.balancer(simple_config(0, [a.port, b.port], health_check=HEALTH, retries=1))

    with h.step("both backends serve"):
        wait_for_both(h, lb, ["a", "b"])

    with h.step("a is SIGKILLed: every GET right after still succeeds (retried on b)"):
        a.kill()
        results = [(r.status, r.header("X-Backend")) for r in
                   (lb.get(f"/after-kill/{i}", timeout=10) for i in range(20))]
        h.expect_eq(dict(Counter(results)), {(200, "b"): 20}, "(status, backend) of 20 GETs")

    with h.step("a POST whose connect to a is refused goes to b with its body (nothing was sent)"):
        results = []
        for i in range(6):
            body = (b"order-%d-" % i) * 300
            r = lb.request("POST", "/echo", body=body, timeout=10)
            results.append((r.status, r.header("X-Backend"), r.body == body))
        h.expect_eq(dict(Counter(results)), {(200, "b", True): 6},
                    "(status, backend, body echoed whole) of 6 POSTs")

    with h.step("after the health-check interval the dead backend gets no requests"):
        time.sleep(1.0)                      # > 3 health-check intervals
        hole = h.blackhole(a.port)           # a's port accepts again, but never answers
        start = time.monotonic()
        results = [(r.status, r.header("X-Backend")) for r in
                   (lb.get(f"/later/{i}", timeout=10) for i in range(20))]
        elapsed = time.monotonic() - start
        h.expect_eq(dict(Counter(results)), {(200, "b"): 20}, "(status, backend) of 20 GETs")
        print(f"   20 GETs in {elapsed:.2f}s")
        time.sleep(0.2)  # the black hole records what it got in a thread
        # What reached a's port says whether requests went to the dead backend (not a time).
        sent_to_a = [line for line in hole.first_lines if not line.startswith("GET /health")]
        h.expect_eq(sent_to_a, [], "requests (other than health checks) that reached a's port")

    # --- a backend dies while a POST is in flight ---------------------------------------------
    c, d = h.backend("c"), h.backend("d")
    lb2 = h.balancer(simple_config(0, [c.port, d.port], retries=1))

    with h.step("POST /die: 502, not retried on the other backend"):
        wait_for_both(h, lb2, ["c", "d"])
        r = lb2.request("POST", "/die", body=b"x" * 1000, timeout=10)
        h.expect_error_json(r, 502, "POST /die")
        time.sleep(0.3)
        dead = [x for x in (c, d) if not x.alive()]
        h.expect_eq(len(dead), 1, "backends that died (2 means the POST was retried)")
        for survivor in (x for x in (c, d) if x.alive()):
            n = survivor.stats()["by_path"].get("POST /die", 0)
            h.expect_eq(n, 0, f"POST /die requests received by the surviving backend "
                              f"{survivor.name}")

    with h.step("GETs keep succeeding on the survivor"):
        statuses = Counter(lb2.get(f"/after-die/{i}", timeout=10).status for i in range(10))
        h.expect_eq(dict(statuses), {200: 10}, "statuses of 10 GETs")


if __name__ == "__main__":
    run(test)
