"""The balancer's own changes under load: reloads, a graceful shutdown, an admin drain. The
target of each is zero failed requests."""
import os
import signal
import time

from harness import wait_for

from . import access_log
from .cases_backends import describe, finish, mixed
from .load import Load
from .result import CaseResult
from .stack import Lb, Origin, balancer_config

HEALTH = ("{ path: /health, interval: 200ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 2 }")


def reload_under_load(ctx):
    reloads = ctx.pick(6, 20)
    r = CaseResult("reload_under_load", f"{reloads} SIGHUP reloads (a backend and a route "
                   "added and removed, weights changed) under load: zero failed requests")
    a, b, c = Origin(ctx.h, "a"), Origin(ctx.h, "b"), Origin(ctx.h, "c")

    def config(i):
        def text(p, ap, log):
            backends = [a.address, b.address] + ([c.address] if i % 2 else [])
            extra = ("  - match: { path_prefix: /extra }\n    upstream: app\n"
                     "    strip_prefix: /extra\n") if i % 2 else ""
            out = balancer_config(p, ap, log, backends, health=HEALTH, extra_routes=extra)
            return out.replace(f"{{ address: {b.address}, weight: 1 }}",
                               f"{{ address: {b.address}, weight: {1 + i % 3} }}")
        return text

    lb = Lb(ctx.h, config(0))
    lb.wait_healthy([a.address, b.address])
    load = Load([lb.port], mixed(100), threads=ctx.pick(12, 24),
                max_requests=ctx.pick(20000, 80000), max_seconds=ctx.pick(6, 20),
                prefix="reload").start()
    time.sleep(0.5)
    done = 0
    for i in range(1, reloads + 1):
        before = lb.metric("balancer_config_reloads_total", 'result="success"')
        lb.proc.config_path.write_text(config(i)(lb.port, lb.admin_port, lb.access_log))
        os.kill(lb.pid, signal.SIGHUP)
        if wait_for(lambda: lb.metric("balancer_config_reloads_total",
                                      'result="success"') > before, 5):
            done += 1
        time.sleep(ctx.pick(0.5, 0.7))
    load.join()
    failures_metric = lb.metric("balancer_config_reloads_total", 'result="failure"')
    finish(r, lb, load)
    failed = load.failures()
    r.note(f"{done} reloads counted as success, {failures_metric:.0f} as failure; "
           f"outcomes {load.outcomes()}")
    r.check(done == reloads, f"every reload succeeded ({done}/{reloads})")
    r.check(not failed, f"zero failed requests ({describe(failed)})")
    return r


def shutdown_under_load(ctx):
    grace = ctx.pick(3, 5)
    r = CaseResult("shutdown_under_load", "SIGTERM to one of two balancers under load: every "
                   "request it read is answered, it exits 0 within shutdown_timeout; clients "
                   "move to the other: zero failed requests")
    a, b = Origin(ctx.h, "a"), Origin(ctx.h, "b")

    def config(p, ap, log):
        return balancer_config(p, ap, log, [a.address, b.address], health=HEALTH,
                               shutdown_timeout=f"{grace}s")
    first, second = Lb(ctx.h, config), Lb(ctx.h, config)
    first.wait_healthy([a.address, b.address])
    second.wait_healthy([a.address, b.address])
    # Clients know both addresses and use the first until it refuses them.
    load = Load([first.port, second.port], mixed(300), threads=ctx.pick(12, 24),
                max_requests=ctx.pick(20000, 80000), max_seconds=ctx.pick(5, 15),
                prefix="shutdown", failover=True).start()
    time.sleep(ctx.pick(1.5, 4))
    term_wall = time.time()
    first.proc.stopped = True
    os.kill(first.pid, signal.SIGTERM)
    code = first.proc.wait_exit(grace + 3)
    exit_s = time.time() - term_wall
    if code is None:
        first.proc.kill()
    load.join()
    log = access_log.read(first.access_log)
    finish(r, second, load)
    failed = load.failures()
    unanswered = [rid for rec in load.records for rid in rec.unanswered]
    read_not_answered = [rid for rid in unanswered if rid in log]
    in_flight = [e for e in log.values() if e.arrived <= term_wall <= e.ended]
    r.failed += len(read_not_answered)
    r.note(f"exit {code} {exit_s:.2f}s after SIGTERM; {len(in_flight)} requests in flight at "
           f"the signal; {len(unanswered)} requests the closing balancer never read sent "
           f"again (to the other after a refused connect); outcomes {load.outcomes()}")
    r.check(code == 0 and exit_s < grace, f"exits 0 within shutdown_timeout {grace}s "
                                          f"(exit {code} after {exit_s:.2f}s)")
    r.check(all(e.status and e.status < 500 for e in in_flight),
            "requests in flight at SIGTERM answered by their backend")
    r.check(not read_not_answered, f"no request the closing balancer read went unanswered "
                                   f"({read_not_answered[:3]})")
    r.check(not failed, f"zero failed requests ({describe(failed)})")
    return r


def admin_drain_under_load(ctx):
    slow = 300
    r = CaseResult("admin_drain_under_load", "DELETE /upstreams/app/backends/ADDR under load: "
                   "zero failed requests, none sent to the backend after the 202, it leaves "
                   "once its in-flight requests finish")
    origins = [Origin(ctx.h, n) for n in ("a", "b", "c")]
    addrs = [o.address for o in origins]
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(p, ap, log, addrs, health=HEALTH))
    lb.wait_healthy(addrs)
    load = Load([lb.port], mixed(slow), threads=ctx.pick(12, 24),
                max_requests=ctx.pick(20000, 80000), max_seconds=ctx.pick(5, 16),
                prefix="drain").start()
    drains = []          # [address, wall time of the 202, seconds to leave, wall time re-added]
    victims = [addrs[0]] if ctx.short else [addrs[0], addrs[1], addrs[0]]
    time.sleep(1.0)
    for victim in victims:
        if victim not in lb.backends():
            resp = lb.admin("POST", "/upstreams/app/backends", {"address": victim, "weight": 1})
            drains[-1 if drains[-1][0] == victim else -2][3] = time.time()
            r.check(resp.status == 201, f"{victim} added back: {resp.status}")
            lb.wait_healthy([victim])
            time.sleep(1.0)
        resp = lb.admin("DELETE", f"/upstreams/app/backends/{victim}")
        at = time.time()
        r.check(resp.status == 202, f"DELETE answered 202 ({resp.status})")
        left = wait_for(lambda: victim not in lb.backends(), slow / 1000 + 3, 0.02)
        drains.append([victim, at, time.time() - at if left else None, float("inf")])
        time.sleep(1.0)
    load.join()
    log = finish(r, lb, load)
    failed = load.failures()
    for victim, at, took, readded in drains:
        in_flight = [e for e in log.values() if e.on_backend_at(victim, at)]
        late = [e for e in log.values() if e.backend == victim and e.dispatched is not None
                and at + 0.005 < e.dispatched < readded]
        r.note(f"{victim}: {len(in_flight)} in flight at the DELETE, left after "
               f"{took if took is None else round(took, 2)}s")
        r.check(took is not None, f"{victim} left the upstream after its drain")
        r.check(all(e.status == 200 for e in in_flight),
                f"{victim}'s in-flight requests answered 200")
        r.check(not late, f"no request sent to {victim} after its DELETE ({len(late)})")
    r.note(f"outcomes {load.outcomes()}")
    r.check(not failed, f"zero failed requests ({describe(failed)})")
    return r
