"""Backends failing under load: killed, hung, answering 500s, all down and back.

The load mixes slow GETs and slow POSTs (/slow?ms=N on test-origin, so a known number is in
flight at any moment) with fast GETs. Which backend a request went to, and when, comes from
the balancer's access log by request id."""
import threading
import time

from harness import http_request

from . import access_log
from .load import Load, Request, percentile
from .result import CaseResult
from .stack import Lb, Origin, balancer_config

HEALTH = ("{ path: /health, interval: 300ms, timeout: 200ms, healthy_threshold: %d, "
          "unhealthy_threshold: 2 }")
BODY = b"o" * 256


def mixed(slow_ms):
    """Request i: a slow GET, a slow POST with a body, or a fast GET, in turn. The slow ones
    take 0.5-1.5 x slow_ms, spread so that the client threads do not fall into step."""
    def make(i):
        ms = slow_ms // 2 + (i * 7919) % (slow_ms + 1)
        if i % 3 == 0:
            return Request("GET", f"/slow?ms={ms}", kind="GET /slow")
        if i % 3 == 1:
            return Request("POST", f"/slow?ms={ms}", BODY, kind="POST /slow")
        return Request("GET", "/", kind="GET /")
    return make


def describe(records, limit=3):
    """'rid kind outcome' of a few records, for notes."""
    return ", ".join(f"{r.rid} {r.kind} {r.outcome()}" for r in records[:limit])


def finish(r, lb, load):
    """Stops the balancer (its access log is complete once it exited), fills sent/failed;
    returns the access log."""
    code, took, killed = lb.stop()
    r.check(code == 0 and not killed, f"balancer exits 0 on SIGTERM (exit {code}, "
                                      f"{took:.1f}s{', killed' if killed else ''})")
    r.sent = load.sent()
    r.failed = len(load.failures())
    return access_log.read(lb.access_log)


def backend_killed(ctx):
    r = CaseResult("backend_killed", "failed requests <= those in flight on the SIGKILLed "
                   "backend at the kill, and each failed one was one of them")
    a, b = Origin(ctx.h, "a"), Origin(ctx.h, "b")
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(p, ap, log, [a.address, b.address],
                                                      health=HEALTH % 1))
    lb.wait_healthy([a.address, b.address])
    load = Load([lb.port], mixed(200), threads=ctx.pick(12, 24),
                max_requests=ctx.pick(4000, 20000), max_seconds=ctx.pick(5, 15),
                prefix="kill").start()
    time.sleep(ctx.pick(1.5, 5))
    admin_in_flight = lb.backends()[a.address]["in_flight"]
    kill_wall = time.time()
    a.kill()
    load.join()
    marked_down = not lb.backends()[a.address]["healthy"]
    log = finish(r, lb, load)

    # The access log names a request's last backend: a GET in flight on the killed backend
    # and sent again to the other one shows there, so the admin API's count read just before
    # the kill is the floor.
    in_flight = max(admin_in_flight, sum(1 for e in log.values()
                                         if e.on_backend_at(a.address, kill_wall)))
    failed = load.failures()
    outside = [x for x in failed
               if not (x.rid in log and log[x.rid].on_backend_at(a.address, kill_wall))]
    after = [x for x in load.records if x.start_wall > kill_wall]
    r.note(f"in flight on the killed backend at the kill: {in_flight}; "
           f"outcomes {load.outcomes()}; "
           f"{sum(x.ok for x in after)}/{len(after)} requests sent after the kill succeeded")
    r.check(not outside, f"every failed request was in flight on the killed backend "
                         f"({len(outside)} were not: {load.outcomes(outside)}; "
                         f"{describe(outside)})")
    r.check(len(failed) <= in_flight, f"failed {len(failed)} <= in flight at the kill {in_flight}")
    r.check(marked_down, "the killed backend is marked down")
    return r


def backend_hung(ctx):
    timeout_s = ctx.pick(1, 2)
    r = CaseResult("backend_hung", "only requests sent to the hung (SIGSTOPped) backend before "
                   f"it was marked down fail, each with 504 after request_timeout {timeout_s}s")
    a, b = Origin(ctx.h, "a"), Origin(ctx.h, "b")
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(
        p, ap, log, [a.address, b.address], health=HEALTH % 1, request_timeout=f"{timeout_s}s"))
    lb.wait_healthy([a.address, b.address])
    load = Load([lb.port], mixed(100), threads=ctx.pick(12, 24),
                max_requests=ctx.pick(4000, 20000), max_seconds=ctx.pick(5, 15),
                prefix="hung").start()
    time.sleep(ctx.pick(1.5, 5))
    down_at = []
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            if not lb.backends()[b.address]["healthy"]:
                down_at.append(time.time())
                return
            time.sleep(0.02)
    watcher = threading.Thread(target=watch, daemon=True)
    hang_wall = time.time()
    b.pause()
    watcher.start()
    try:
        load.join()
    finally:
        watching.set()
        b.resume()
    watcher.join(2)
    log = finish(r, lb, load)

    down = down_at[0] if down_at else float("inf")
    # Sent to b while it could still be picked (up to its marking down, plus the watcher's
    # polling step) and not answered before the hang.
    exposed = [e for e in log.values() if e.backend == b.address and e.dispatched is not None
               and e.dispatched <= down + 0.05 and e.ended >= hang_wall - 0.002]
    exposed_ids = {e.request_id for e in exposed}
    failed = load.failures()
    wrong = [x for x in failed if x.rid not in exposed_ids or x.status != 504]
    late = [e for e in log.values() if e.backend == b.address and e.dispatched is not None
            and e.dispatched > down + 0.05]
    slow_504 = [x.latency for x in failed if x.status == 504]
    r.note(f"marked down {down - hang_wall:.2f}s after the hang; {len(exposed)} requests sent "
           f"to it before; outcomes {load.outcomes()}; 504s took "
           f"{min(slow_504, default=0):.2f}-{max(slow_504, default=0):.2f}s")
    r.check(down_at, "the hung backend is marked down")
    r.check(not wrong, f"every failure is a 504 of a request sent to the hung backend before "
                       f"it was marked down ({len(wrong)} are not: {describe(wrong)})")
    r.check(not late, f"no request sent to it after it was marked down ({len(late)})")
    return r


def backend_500s(ctx):
    cf, threads = 3, ctx.pick(8, 16)
    r = CaseResult("backend_500s", "outlier detection (consecutive_failures 3) ejects the "
                   "backend answering 500: failures <= ejections x (3 + client threads)")
    a, b = ctx.h.backend("a"), ctx.h.backend("b")      # tests/integration/backend.py
    outlier = (f"    outlier_detection: {{ consecutive_failures: {cf}, base_ejection_time: "
               f"{ctx.pick('1s', '2s')}, max_ejection_percent: 50 }}\n")
    addrs = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(p, ap, log, addrs, health=HEALTH % 1,
                                                      extra_upstream=outlier))
    lb.wait_healthy(addrs)
    load = Load([lb.port], lambda i: Request("GET", f"/get/{i}", kind="GET"), threads=threads,
                max_requests=ctx.pick(20000, 60000), max_seconds=ctx.pick(5, 15),
                prefix="e500").start()
    time.sleep(ctx.pick(1, 3))
    http_request(a.port, "POST", "/admin/fail?code=500")
    load.join()
    ejections = lb.backends()[addrs[0]]["ejections"]
    finish(r, lb, load)
    failed = load.failures()
    wrong = [x for x in failed if x.status != 500 or x.backend != "a"]
    bound = ejections * (cf + threads)
    r.note(f"{ejections} ejections; outcomes {load.outcomes()}")
    r.check(ejections >= 1, "the failing backend was ejected")
    r.check(not wrong, f"failures are the failing backend's 500s ({describe(wrong)})")
    r.check(len(failed) <= bound, f"failed {len(failed)} <= {bound}")
    return r


def all_backends_down_and_back(ctx):
    outage = ctx.pick(2, 5)
    r = CaseResult("all_backends_down_and_back", "while every backend is down the balancer "
                   "answers 502/503 at once (no hang, no reset); served again within 1.5 s "
                   "of the backends' return (health: 2 x 300 ms)")
    a, b = Origin(ctx.h, "a"), Origin(ctx.h, "b")
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(p, ap, log, [a.address, b.address],
                                                      health=HEALTH % 2))
    lb.wait_healthy([a.address, b.address])
    load = Load([lb.port], mixed(20), threads=ctx.pick(8, 16),
                max_requests=ctx.pick(40000, 100000), max_seconds=ctx.pick(6, 15),
                prefix="down", pause=0.001).start()
    time.sleep(ctx.pick(1.5, 4))
    down_mono = time.monotonic()
    a.kill()
    b.kill()
    time.sleep(outage)
    Origin(ctx.h, "a", a.port)            # back on the same addresses
    Origin(ctx.h, "b", b.port)
    up_mono = time.monotonic()
    load.join()
    finish(r, lb, load)
    failed = load.failures()
    not_answered = [x for x in failed if x.status not in (502, 503)]
    first_ok = min((x.end for x in load.records if x.ok and x.start > up_mono), default=None)
    recovered = first_ok - up_mono if first_ok is not None else float("inf")
    after = [x for x in failed if x.start > up_mono + 1.5]
    before = [x for x in failed if x.end < down_mono]
    fail_p99 = percentile([x.latency for x in failed], 99)
    r.note(f"outage {outage}s; first 2xx {recovered:.2f}s after the backends returned; "
           f"failed p99 {fail_p99 * 1000:.0f} ms; outcomes {load.outcomes()}")
    r.check(not not_answered, f"every failure is a 502/503 answer ({describe(not_answered)})")
    r.check(fail_p99 < 1.0, f"failures answered at once (p99 {fail_p99:.2f}s < 1 s)")
    r.check(recovered <= 1.5, f"served again {recovered:.2f}s after the return (<= 1.5 s)")
    r.check(not after and not before, f"no failure before the outage or 1.5 s after the "
                                      f"return ({len(before)}, {len(after)})")
    return r
