#!/usr/bin/env python3
"""`redis.fail_open: false` (README "Configuration reference"): a `scope: global` rate limit
whose Redis is unavailable answers 503 (the JSON error) rather than serve, and at once (within
`redis.timeout`, not hanging): with nothing listening on Redis's port from the start, and with
a real redis-server that serves and is then stopped; when Redis is back the limit serves again.
Routes without a limit are not affected. (fail_open: true is in test_rate_limit.py.)"""
import shutil

from harness import Process, free_port, port_accepts, run, simple_config, wait_for

ROUTE = ("  - match: { path_prefix: /limited }\n    upstream: app\n"
         "    rate_limit: { rate: 100/s, burst: 1000, key: ip, scope: global }\n")


def config(port, backend_port, redis_port):
    redis = f"redis: {{ address: 127.0.0.1:{redis_port}, timeout: 200ms, fail_open: false }}"
    return simple_config(port, [backend_port], workers=2, extra_top=redis) + ROUTE


def start_redis(h, port):
    d = h.dir / f"redis-{port}-{len(h.processes)}"
    d.mkdir()
    p = Process(f"redis {port}", [shutil.which("redis-server") or "redis-server", "--port",
                                  str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                  "no", "--dir", str(d)], d / "redis.log")
    h.processes.append(p)
    p.wait_port(port)
    return p


def expect_refused(h, lb, n, what):
    """n requests on new connections (either worker) to the limited route: each a 503."""
    for i in range(n):
        r = lb.get(f"/limited/{i}", timeout=10)
        h.expect_error_json(r, 503, f"{what}: request {i}")
        h.expect(r.elapsed < 3.0, f"{what}: answered in {r.elapsed:.2f}s (redis.timeout 200ms)")


def test(h):
    backend = h.backend("a")

    with h.step("nothing listens on Redis's port: the limited route answers 503"):
        dead_port = free_port()
        port = free_port()
        lb = h.balancer(config(port, backend.port, dead_port), port)
        expect_refused(h, lb, 6, "no Redis")
        h.expect_eq(lb.get("/open").status, 200, "a route without a limit")
        h.expect_eq(backend.stats()["by_path"].get("GET /limited/0", 0), 0,
                    "refused requests reached the backend")

    redis_port = free_port()
    redis = start_redis(h, redis_port)
    port2 = free_port()
    lb2 = h.balancer(config(port2, backend.port, redis_port), port2)

    with h.step("Redis up: the limited route serves"):
        # Each worker connects to Redis in the background: wait until both answer.
        h.expect(wait_for(lambda: all(lb2.get(f"/limited/up{i}").status == 200
                                      for i in range(6)), 10), "200s with Redis up")

    with h.step("Redis stopped: the limited route answers 503 at once"):
        redis.terminate(timeout=5)
        h.expect(wait_for(lambda: not port_accepts(redis_port), 5), "redis stopped")
        expect_refused(h, lb2, 6, "Redis stopped")
        h.expect_eq(lb2.get("/open").status, 200, "a route without a limit")

    with h.step("Redis back on its port: the limited route serves again"):
        start_redis(h, redis_port)
        # The workers reconnect with a backoff of at most 2 s each.
        h.expect(wait_for(lambda: all(lb2.get(f"/limited/back{i}").status == 200
                                      for i in range(6)), 15, interval=0.3),
                 "200s after Redis came back")


if __name__ == "__main__":
    run(test)
