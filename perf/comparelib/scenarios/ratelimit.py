"""ratelimit: what rate limits cost the balancer. One config, /limited (a global limit: one
Redis script call per request) and /local (the workers' shared buckets) against /open (no
limit); the limits are far above the load, so nothing is refused. Redis is the script's own,
pinned to the proxy core; its CPU and calls per request are reported."""
import os
import shutil
import time

from .. import log, md_cell
from ..probe import RouteChecks
from ..process import Proc, free_port, tail
from ..redis import redis_command, redis_script_calls
from ..scenario import FeatureScenario, Fixture, Run
from ..versions import tool_version
from . import register


class RedisServer(Fixture):
    """Our own redis-server on a free loopback port, pinned to the proxy core."""

    def __init__(self, bench):
        super().__init__(bench)
        self.proc = None
        self.port = None
        self.error = None

    def setup(self, scenarios):
        self.error = self._start()
        if self.error:
            log(f"Redis did not start, ratelimit rows will say so: {self.error}")

    def _start(self):
        a, raw = self.bench.args, self.bench.raw
        exe = shutil.which("redis-server")
        if not exe:
            return "redis-server not found in PATH"
        port = free_port()
        d = os.path.join(raw, "redis")
        os.makedirs(d, exist_ok=True)
        self.proc = Proc("redis", ["taskset", "-c", a.proxy_core, exe, "--port", str(port),
                                   "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--dir", d, "--logfile", ""],
                         os.path.join(raw, "redis.log"))
        deadline = time.time() + 10
        last = "no answer"
        while time.time() < deadline:
            if self.proc.exited():
                last = f"{self.proc.exit_desc()} during start-up | log: {tail(self.proc.logfile, 3)}"
                break
            try:
                if redis_command(port, "PING") == "PONG":
                    self.port = port
                    log(f"redis: pid {self.proc.pid} on 127.0.0.1:{port} (core {a.proxy_core})")
                    return None
            except (OSError, RuntimeError) as e:
                last = str(e)
            time.sleep(0.1)
        self.proc.stop()
        self.proc = None
        return f"redis-server not ready: {last}"

    def header_lines(self, args, points):
        if not any(pt[3] == "ratelimit" for pt in points):
            return []
        return [f"- ratelimit: {tool_version(['redis-server', '--version'])}, started by the script on "
                f"127.0.0.1:{self.port or '?'} (`--save '' --appendonly no`), pinned to core {args.proxy_core} "
                f"with the proxy and the origin; balancer `redis.timeout` 50ms (the default), `fail_open: false`"
                + (f"; **{md_cell(self.error)}**" if self.error else "")]

    def json(self):
        return {"redis_error": self.error}


def _cell(x, fmt):
    return "—" if x is None else format(x, fmt)


@register
class RateLimit(FeatureScenario):
    name = "ratelimit"
    description = "balancer only: a global (Redis) and a local rate limit against no limit"
    order = 70
    points = ("1:64:/", "2:64:/")
    quick_points = ("1:64:/",)
    fixtures = (RedisServer,)
    measured = ("redis_cpu_us_per_req", "redis_calls_per_req")
    template = "balancer-ratelimit.yaml.tmpl"
    variants = (Run("open", "balancer", "/open", "open"),
                Run("limited", "balancer", "/limited", "open"),
                Run("local", "balancer", "/local", "open"))
    title = "Rate limits: `/limited` (global, through Redis) and `/local` against `/open` (no limit)"
    text = ("One balancer config, three routes to the same origin path (`strip_prefix`). `/limited` has "
            "`rate_limit: { rate: 1000000/s, burst: 1000000, key: ip, scope: global }`: nothing is refused "
            "but every request waits for one Redis script call (asynchronous on the worker's loop) before "
            "it is forwarded; `/local` has the same limit with `scope: local` (a bucket in the table the "
            "workers share). Redis runs on the proxy core, so its CPU competes with the balancer's, as "
            "it would on a shared host. `×open` is the ratio to `/open` at the same point, run just before it: "
            "**req/s ×open is the share of `/open`'s throughput a rate-limited route keeps**; for p99 and "
            "CPU per request, lower is better. `Redis CPU µs/req` is redis-server's CPU per request, "
            "to be added to the balancer's for the whole cost; `Redis calls/req` counts EVAL/EVALSHA "
            "(INFO commandstats) over the run and must be 1.00 on `/limited` and 0 elsewhere. "
            "`errors` includes every response ≥ 400: a refusal (429) or an unanswered Redis check "
            "(503, since `fail_open` is off) would show there.")
    columns = (("Redis CPU µs/req", lambda a: _cell(a.get("redis_cpu_us_per_req"), ".1f")),
               ("Redis calls/req", lambda a: _cell(a.get("redis_calls_per_req"), ".2f")))
    all_good = "No response was a 429 or a 503 (wrk counted 0 responses ≥ 400 and no socket errors on every route)."

    def unavailable(self, bench, run):
        redis = bench.fixture(RedisServer)
        return None if redis.port else f"no Redis: {redis.error or 'not started'}"

    def values(self, bench, run, base):
        return {"REDIS_ADDR": f"127.0.0.1:{bench.fixture(RedisServer).port}"}

    def checks(self, bench, run, port):
        redis_port = bench.fixture(RedisServer).port
        c = RouteChecks(port)
        c0 = redis_script_calls(redis_port)
        for route in ("/open/", "/local/", "/limited/"):
            c.expect(route, 200)
        c1 = redis_script_calls(redis_port)
        if c0 is None or c1 is None:
            c.surprises.append("cannot read Redis's INFO commandstats")
        elif c1 - c0 != 1:
            c.surprises.append(f"GET /open/, /local/, /limited/ made {c1 - c0} Redis script calls (expected 1)")
        return c.surprises

    # Redis is one of ours: its CPU is reported, not "other"
    def helper_pids(self, bench):
        redis = bench.fixture(RedisServer)
        return {"redis": redis.proc.pids()} if redis.proc else {}

    def before_run(self, bench):
        redis = bench.fixture(RedisServer)
        return redis_script_calls(redis.port) if redis.proc else None

    def after_run(self, bench, before, row, requests):
        redis = bench.fixture(RedisServer)
        after = redis_script_calls(redis.port) if redis.proc else None
        if before is not None and after is not None:
            row["redis_calls_per_req"] = (after - before) / requests

    def row_notes(self, run, route, wk, conns, a):
        calls = a.get("redis_calls_per_req")
        expect = 1.0 if run.name == "limited" else 0.0
        if calls is None:
            return [f"- ratelimit {route} at {wk}w/{conns}c: Redis's call count could not be read"]
        if abs(calls - expect) > 0.01:
            return [f"- ratelimit {route} at {wk}w/{conns}c: {calls:.3f} Redis script calls per "
                    f"request (expected {expect:.0f})"]
        return []
