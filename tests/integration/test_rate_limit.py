#!/usr/bin/env python3
"""Rate limits: a local bucket shared by the workers of one balancer, a global one shared by
two balancers through Redis, and Redis going away without holding anybody up."""
import json
import shutil
import subprocess
import time

from harness import Process, free_port, port_accepts, run, simple_config

ROUTE = "  - match: {{ path_prefix: /limited }}\n    upstream: app\n" \
        "    rate_limit: {{ rate: 1/m, burst: {burst}, key: {key}, scope: {scope} }}\n"


def config(port, backend_port, burst, scope, redis_port=None, key="ip"):
    redis = f"redis: {{ address: 127.0.0.1:{redis_port}, timeout: 200ms }}" if redis_port else ""
    return simple_config(port, [backend_port], workers=2, extra_top=redis,
                         request_timeout="30s") + \
        ROUTE.format(burst=burst, key=key, scope=scope)


def statuses(lb, n):
    out = []
    for _ in range(n):
        out.append(lb.get("/limited").status)  # a new connection each: any worker may answer
    return out


def start_redis(h, port):
    d = h.dir / f"redis-{port}"
    d.mkdir(exist_ok=True)
    p = Process(f"redis {port}", [shutil.which("redis-server") or "redis-server", "--port",
                                  str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                  "no", "--dir", str(d)], h.dir / f"redis-{port}.log")
    h.processes.append(p)
    p.wait_port(port)
    return p


def test(h):
    backend = h.backend("a")

    with h.step("local: a burst of 5 across two workers, 8 requests -> exactly 3 answered 429"):
        port = free_port()
        lb = h.balancer(config(port, backend.port, 5, "local"), port)
        got = statuses(lb, 8)
        h.expect_eq(sorted(got), [200] * 5 + [429] * 3, f"statuses {got}")
        r = lb.get("/limited")
        h.expect_error_json(r, 429, "the refusal")
        h.expect(int(r.header("Retry-After", "0")) >= 1, f"Retry-After {r.header('Retry-After')}")
        h.expect_eq(r.header("RateLimit-Limit"), "5", "RateLimit-Limit")
        h.expect_eq(r.header("RateLimit-Remaining"), "0", "RateLimit-Remaining")
        h.expect(int(r.header("RateLimit-Reset", "0")) >= 1, "RateLimit-Reset")
        r = lb.get("/other")
        h.expect_eq(r.status, 200, "routes without a limit are not limited")
        h.expect_eq(r.header("RateLimit-Limit"), None, "no RateLimit headers without a limit")

    redis_port = free_port()
    redis = start_redis(h, redis_port)
    with h.step("global: two balancers share one bucket of 10 through Redis"):
        ports = [free_port(), free_port()]
        lbs = [h.balancer(config(p, backend.port, 10, "global", redis_port), p) for p in ports]
        got = []
        remaining = []
        for i in range(20):
            r = lbs[i % 2].get("/limited")
            got.append(r.status)
            if r.status == 200:
                remaining.append(r.header("RateLimit-Remaining"))
        h.expect_eq(sorted(got), [200] * 10 + [429] * 10, f"statuses {got}")
        # Each answer the limit let through says what is left of the shared bucket (a refill,
        # one a minute, may add a token during the run: counted down, not exactly by one).
        h.expect(all(v is not None for v in remaining), f"RateLimit-Remaining on each 200: {remaining}")
        numbers = [int(v) for v in remaining if v is not None]
        h.expect(numbers == sorted(numbers, reverse=True) and numbers[-1] <= 1,
                 f"RateLimit-Remaining counts the shared bucket down: {numbers}")

    with h.step("Redis stopped: requests are answered at once, and the limit still holds "
                "(on_unavailable: local, the default)"):
        redis.terminate(timeout=5)
        deadline = time.monotonic() + 5
        while port_accepts(redis_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        for lb in lbs:
            for _ in range(5):
                r = lb.get("/limited", timeout=30)
                h.expect_eq(r.status, 200, "status with Redis down")
                # Wide for a loaded machine; a limiter that waited on Redis would hang until
                # request_timeout (30 s) instead of its 200 ms.
                h.expect(r.elapsed < 10.0, f"answered in {r.elapsed:.2f}s (Redis timeout 200ms)")
        # Each balancer now counts alone, with the route's burst of 10: it refuses again.
        for lb in lbs:
            more = [lb.get("/limited", timeout=30).status for _ in range(8)]
            h.expect(429 in more, f"the limit holds without Redis: statuses {more}")
            r = lb.get("/limited", timeout=30)
            h.expect_error_json(r, 429, "refused by this balancer alone")


if __name__ == "__main__":
    run(test)
