"""The shop under faults of its stores and of the notification service: orders placed, moved
to paid and shipped, products read, every status pushed over WebSocket; then nothing lost."""
import time

from fixture import Service

from .result import CaseResult
from .shop import Client, Traffic


def _run(ctx, r, fault, customers=None):
    """Shop traffic around `fault(shop)`; fills r's counts and checks the books. Returns the
    traffic (for the case's own checks)."""
    shop = ctx.shop()
    traffic = Traffic(shop, r.name, customers or ctx.pick(4, 8))
    traffic.start()
    try:
        traffic.wait_first_events()
        time.sleep(ctx.pick(1.0, 3.0))
        fault(shop)
        time.sleep(ctx.pick(2.0, 5.0))
    finally:
        traffic.stop()
    r.sent = traffic.sent()
    r.failed = len(traffic.failures())
    traffic.verify(r)
    return traffic


def redis_restart(ctx):
    down_s = ctx.pick(2, 5)
    r = CaseResult("redis_restart", f"Redis stopped {down_s}s under shop traffic: zero failed "
                   "(rate limit fails open, product reads from PostgreSQL), no order or event "
                   "lost (the outbox catches up)")
    marks = {}

    def fault(shop):
        shop.stores.redis_stop()
        marks["down"] = time.monotonic()
        time.sleep(down_s)
        shop.stores.redis_start()
        marks["up"] = time.monotonic()

    fail_open = "Redis unavailable for global rate limits"
    before = ctx.shop().lb.log_text().count(fail_open)
    traffic = _run(ctx, r, fault)
    failures = traffic.failures()
    reads = [x for x, _ in traffic.records if x.kind.startswith("GET /api/products")
             and marks["down"] < x.start and x.end < marks["up"]]
    r.note(f"{sum(x.ok for x in reads)}/{len(reads)} product reads while Redis was down "
           f"answered 2xx; failures: {traffic.outcomes(failures) or 'none'}")
    r.check(ctx.shop().lb.log_text().count(fail_open) > before,
            "the balancer's global rate limit saw Redis down and served anyway (its log)")
    r.check(reads, "product reads were made while Redis was down")
    r.check(not failures, "zero failed requests")
    return r


def postgres_restart(ctx):
    down_s = ctx.pick(2, 5)
    recover_s = 5
    r = CaseResult("postgres_restart", f"PostgreSQL stopped {down_s}s under shop traffic: "
                   f"failures only 503 with Retry-After, none {recover_s}s after it is back; "
                   "no order lost or doubled (retries with the same Idempotency-Key), no event "
                   "lost")
    marks = {}

    def fault(shop):
        marks["down"] = time.monotonic()
        shop.stores.pg_stop()
        time.sleep(down_s)
        shop.stores.pg_start()
        marks["up"] = time.monotonic()

    traffic = _run(ctx, r, fault)
    # Then every service that needs PostgreSQL, the idle user-service included, answers.
    time.sleep(max(0.0, marks["up"] + recover_s - time.monotonic()))
    probes = _probe_services(traffic)
    r.sent += len(probes)
    r.failed += sum(not x.ok for x in probes)
    failures = traffic.failures() + [x for x in probes if not x.ok]
    not_503 = [x for x in failures if x.status != 503 or "retry-after" not in (x.headers or {})]
    late = [x for x in failures if x.start > marks.get("up", 0) + recover_s]
    last = max((x.end for x in failures), default=None)
    r.note(f"failures: {traffic.outcomes(failures) or 'none'}; last failure "
           + (f"{last - marks['up']:+.2f}s after PostgreSQL was back" if last else "-")
           + f"; {traffic.accepted_409} status changes had landed before their lost answer")
    r.check(not not_503, f"every failure is a 503 with Retry-After "
                         f"({traffic.outcomes(not_503)})")
    r.check(not late, f"no failure {recover_s}s after PostgreSQL is back ({len(late)})")
    return r


def _probe_services(traffic, rounds=3):
    """A request to each service that reads PostgreSQL, `rounds` times: the Records."""
    _, token, _ = traffic.customers[0]
    client = Client(traffic.shop.port, f"{traffic.case}-probe")
    out = []
    for i in range(rounds):
        out.append(client.call("GET", "/api/users/me", token=token))
        out.append(client.call("GET", f"/api/products?limit=1&q=probe{i}{time.time_ns()}"))
        out.append(client.call("GET", "/api/orders", token=token))
    client.close()
    return out


def notification_killed(ctx):
    down_s = ctx.pick(1, 3)
    r = CaseResult("notification_killed", f"notification-service SIGKILLed during status "
                   f"changes, back after {down_s}s: zero failed API requests, every event "
                   "delivered once after the WebSockets reconnect with last_event_id")

    def fault(shop):
        old = shop.services["notifications"]
        old.kill()
        time.sleep(down_s)
        again = Service(shop.h, old.binary, old.port, old.settings)
        shop.h.processes.append(again)
        again.wait_port(again.port)
        shop.services["notifications"] = again
        shop.wait_ready(again)

    traffic = _run(ctx, r, fault)
    failures = traffic.failures()
    refused = {}
    for _, _, ws in traffic.customers:
        for why, n in ws.refused.items():
            refused[why] = refused.get(why, 0) + n
    r.note(f"failures: {traffic.outcomes(failures) or 'none'}; WebSocket reconnect attempts "
           f"refused while it was down: {refused or 'none'}")
    r.check(not failures, "zero failed API requests")
    r.check(all(ws.opened > 1 for _, _, ws in traffic.customers),
            "every WebSocket reconnected")
    return r

