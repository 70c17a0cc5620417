"""The shop under attack (issue 14): a login flood against user-service, a flood of distinct
searches against product-service and the Redis it shares with the order-event streams, and
Redis slow (SIGSTOPped) then gone under a global rate limit."""
import json
import os
import random
import signal
import threading
import time

from fixture import call, dev_keys, start_service
from harness import Process, free_port

from .cases_shop import _run
from .load import Load, Request, percentile
from .result import CaseResult
from .stack import Lb, Origin, balancer_config


def _redis_info(stores, section, field):
    for line in stores.redis_cli("INFO", section).splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    return 0


class _Probe(threading.Thread):
    """GETs `paths` on `port` in turn until stopped: the latency other requests see."""

    def __init__(self, port, paths, headers=None):
        super().__init__(daemon=True)
        self.port, self.paths, self.headers = port, paths, headers or {}
        self.latencies, self.failed = [], []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for path in self.paths:
                try:
                    r = call(self.port, "GET", path, headers=self.headers, timeout=10)
                    self.latencies.append(r.elapsed)
                    if r.status != 200:
                        self.failed.append(f"{path} {r.status}")
                except OSError as e:
                    self.failed.append(f"{path} {type(e).__name__}")
            time.sleep(0.05)

    def stop(self):
        self._halt.set()
        self.join(15)


def login_flood(ctx):
    r = CaseResult("login_flood", "a login flood on a user-service with production argon2 "
                   "costs: logins past its hash queue answer 503 with Retry-After at once, one "
                   "account is locked (429) after 5 failures, and /health, the JWKS and "
                   "/api/users/me (database work) stay under 1 s")
    shop = ctx.shop()
    svc = start_service(ctx.h, "user-service", shop.stores, **{
        "jwt.private_keys": dev_keys(ctx.h), "password.threads": 2, "password.queue": 8})
    shop.wait_ready(svc)
    uid = int(shop.psql("SELECT min(id) FROM users")[0][0])
    victim = f"victim-{time.time_ns()}@shop.test"

    def attempt(i):
        # Half at one account (the throttle), half at fresh ones (the hash queue).
        email = victim if i % 2 == 0 else f"guess-{i}@shop.test"
        body = json.dumps({"email": email, "password": f"guess-{i}"}).encode()
        return Request("POST", "/api/auth/login", body, {"Content-Type": "application/json"},
                       kind="POST /api/auth/login")

    probe = _Probe(svc.port, ["/health", "/.well-known/jwks.json", "/api/users/me"],
                   {"X-User-Id": str(uid), "X-User-Roles": ""})
    load = Load([svc.port], attempt, threads=ctx.pick(16, 32),
                max_requests=ctx.pick(1500, 6000), max_seconds=ctx.pick(6, 20),
                prefix="login", keep_body=True)
    probe.start()
    load.start()
    load.join()
    probe.stop()
    outcomes = load.outcomes()
    busy = [x for x in load.records if x.status == 503]
    slowest = max(probe.latencies, default=0.0)
    r.sent = load.sent() + len(probe.latencies)
    r.failed = len(probe.failed)
    r.note(f"logins: {outcomes}; other requests: {len(probe.latencies)}, p99 "
           f"{percentile(probe.latencies, 99) * 1000:.0f} ms, slowest {slowest * 1000:.0f} ms")
    r.check(busy and all((x.headers or {}).get("retry-after") for x in busy),
            "logins past the queue answered 503 with Retry-After")
    r.check(outcomes.get("429", 0) > 0, "the attacked account was locked (429)")
    r.check(set(outcomes) <= {"401", "429", "503"}, "no other answer to the flood's logins")
    r.check(not probe.failed, f"other requests all answered 200 ({probe.failed[:3]})")
    r.check(probe.latencies and slowest < 1.0, "other requests stayed under 1 s")
    return r


def search_flood(ctx):
    r = CaseResult("search_flood", "a flood of distinct searches through the balancer under "
                   "shop traffic, Redis bounded as scripts/redis bounds it (maxmemory, "
                   "volatile-lru): Redis grows by less than 8 MB, long q refused (400), zero "
                   "failed shop requests, no order or event lost")
    shop = ctx.shop()
    stores = shop.stores
    before = _redis_info(stores, "memory", "used_memory")
    bound = before + 32 * 1024 * 1024
    stores.redis_cli("CONFIG", "SET", "maxmemory", bound)
    stores.redis_cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
    rng = random.Random(14)
    flood = {}

    def search(i):
        # Distinct every time; a few past the 256-byte cap.
        n = 300 if i % 50 == 0 else rng.randrange(8, 200)
        q = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
        return Request("GET", f"/api/products?q={q}&limit={1 + i % 100}&offset={i % 1000}",
                       kind="GET /api/products?q=")

    def fault(s):
        load = Load([s.port], search, threads=ctx.pick(6, 12), max_requests=ctx.pick(4000, 40000),
                    max_seconds=ctx.pick(5, 20), prefix="search")
        load.start()
        peak = 0
        while load.running():
            peak = max(peak, _redis_info(stores, "memory", "used_memory"))
            time.sleep(0.2)
        load.join()
        flood.update(load=load, peak=peak)

    try:
        _run(ctx, r, fault)
    finally:
        stores.redis_cli("CONFIG", "SET", "maxmemory", 0)
    load = flood["load"]
    outcomes = load.outcomes()
    grew = flood["peak"] - before
    r.sent += load.sent()
    r.note(f"searches: {outcomes}; Redis used_memory {before / 1e6:.1f} MB before, peak "
           f"{flood['peak'] / 1e6:.1f} MB")
    r.check(set(outcomes) <= {"200", "400"} and outcomes.get("200"),
            "every search answered (400 only past the q cap)")
    r.check(outcomes.get("400", 0) > 0, "long q answered 400")
    r.check(grew < 8 * 1024 * 1024, f"Redis grew by {grew / 1e6:.1f} MB (< 8 MB)")
    r.check(r.failed == 0, "zero failed shop requests")
    return r


def redis_slow_or_gone(ctx):
    burst, rate = 20, 10
    phase_s = ctx.pick(3, 6)
    r = CaseResult("redis_slow_or_gone", f"a global rate limit ({rate}/s, burst {burst}, "
                   "redis.on_unavailable: local) with Redis SIGSTOPped, then stopped: each "
                   "phase lets through at most burst + rate x seconds, answers in under 1 s, "
                   "and refuses the rest with 429")
    h = ctx.h
    redis_port = free_port()
    redis_dir = h.dir / "redis"
    redis_dir.mkdir(exist_ok=True)
    redis = Process("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(redis_dir)],
                    h.dir / "redis.log")
    h.processes.append(redis)
    redis.wait_port(redis_port)
    origin = Origin(h, "a")
    route = (f"  - match: {{ path_prefix: /slow }}\n    upstream: app\n"
             f"    rate_limit: {{ rate: {rate}/s, burst: {burst}, key: ip, scope: global }}\n")
    lb = Lb(h, lambda p, ap, log: balancer_config(
        p, ap, log, [origin.address], extra_routes=route,
        extra_top=f"redis: {{ address: 127.0.0.1:{redis_port}, timeout: 50ms, "
                  f"on_unavailable: local }}"))
    phases = []

    def phase(name):
        load = Load([lb.port], lambda i: Request("GET", "/slow?ms=1", kind="GET /slow"),
                    threads=8, max_requests=ctx.pick(8000, 30000), max_seconds=phase_s,
                    prefix=name, timeout=5, pause=0.005)
        start = time.monotonic()
        load.start()
        load.join()
        phases.append((name, load, time.monotonic() - start))

    try:
        os.kill(redis.pid, signal.SIGSTOP)   # slow: accepts, never answers
        phase("redis_stopped")
    finally:
        os.kill(redis.pid, signal.SIGCONT)
    redis.terminate(timeout=5)               # gone
    time.sleep(0.3)
    phase("redis_gone")
    for name, load, seconds in phases:
        outcomes = load.outcomes()
        allowed = burst + rate * seconds + rate  # one refill of slack for the edges
        lat = [x.latency for x in load.records if x.status is not None]
        r.sent += load.sent()
        r.failed += sum(1 for x in load.records if x.status not in (200, 429))
        r.note(f"{name}: {outcomes} in {seconds:.1f}s (allowed <= {allowed:.0f}), p99 "
               f"{percentile(lat, 99) * 1000:.0f} ms")
        r.check(outcomes.get("200", 0) <= allowed, f"{name}: the limit held")
        r.check(outcomes.get("429", 0) > 0, f"{name}: the rest refused with 429")
        r.check(set(outcomes) <= {"200", "429"}, f"{name}: no other answer")
        r.check(lat and percentile(lat, 99) < 1.0, f"{name}: answered in under 1 s (p99)")
    r.check(lb.metric("balancer_rate_limit_unavailable_total") > 0,
            "balancer_rate_limit_unavailable_total counted the fallback")
    return r
