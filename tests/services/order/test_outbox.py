"""The outbox relay: every status change reaches the Redis stream once, in order, with its
event id; nothing is lost while Redis is down, across a restart of the service, or while
PostgreSQL is down (which answers 503 until it is back); two instances publish each event
once."""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Stores, call, restart_service, run, start_service, wait_until  # noqa: E402
from seed import seed  # noqa: E402

STREAM = "order-status"


def stream(stores):
    """The stream's entries as dicts of their fields, oldest first."""
    out = stores.redis_cli("--json", "XRANGE", STREAM, "-", "+")
    entries = []
    for _, fields in json.loads(out or "[]"):
        entries.append(dict(zip(fields[::2], fields[1::2])))
    return entries


def outbox_events(stores):
    """(event_id, id_order, status) of every outbox row, in id order."""
    rows = stores.psql("SELECT event_id, aggregate_id, payload->>'status' FROM outbox ORDER BY id")
    return [(e, int(o), s) for e, o, s in rows]


def unsent(stores):
    return int(stores.psql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0])


def test(h):
    stores = Stores(h)
    ids = seed(stores)
    settings = {"relay__backoff_max": "500ms", "relay__interval": "300ms"}
    svc = start_service(h, "order-service", stores, **settings)
    alice, courier = ids["alice"], ids["courier"]

    def place(port=None):
        r = call(port or svc.port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 1},
                 user=alice)
        h.expect_eq(r.status, 201, f"place ({r.body!r})")
        return r.json()["id_order"]

    def change(order_id, value, port=None):
        r = call(port or svc.port, "POST", f"/api/orders/{order_id}/status", {"status": value},
                 user=courier, roles=["courier"])
        h.expect_eq(r.status, 200, f"{order_id} -> {value} ({r.body!r})")

    def expect_all_delivered(what, timeout=15):
        """Every outbox row is in the stream exactly once, with the same event id and in the
        outbox's order for each order, and marked sent."""
        events = outbox_events(stores)
        wait_until(lambda: len(stream(stores)) >= len(events) and unsent(stores) == 0,
                   timeout=timeout)
        entries = stream(stores)
        h.expect_eq(len(entries), len(events), f"{what}: stream length")
        h.expect_eq(sorted(e["event_id"] for e in entries), sorted(e for e, _, _ in events),
                    f"{what}: the stream's event ids are the outbox's, each once")
        by_order = {}
        for e in entries:
            by_order.setdefault(int(e["id_order"]), []).append(e["status"])
        expected = {}
        for _, order_id, status in events:
            expected.setdefault(order_id, []).append(status)
        h.expect_eq(by_order, expected, f"{what}: each order's statuses in order")
        h.expect_eq(unsent(stores), 0, f"{what}: every outbox row marked sent")

    with h.step("each change: one history row, one stream entry with its event id"):
        order_id = place()
        for value in ("paid", "shipped", "delivered"):
            change(order_id, value)
        rows = stores.psql(f"SELECT count(*) FROM order_status_history WHERE id_order = {order_id}")
        h.expect_eq(rows, [["4"]], "history rows")
        expect_all_delivered("steady")
        entries = stream(stores)
        h.expect_eq([e["status"] for e in entries], ["created", "paid", "shipped", "delivered"],
                    "statuses in order")
        first = entries[0]
        payload = json.loads(first["payload"])
        h.expect_eq(payload.get("type"), "order.status", "payload type")
        h.expect_eq(payload.get("event_id"), first["event_id"], "payload event_id")
        h.expect_eq(payload.get("id_order"), order_id, "payload id_order")
        h.expect_eq(payload.get("id_user"), alice, "payload id_user")
        h.expect_eq(first["id_user"], str(alice), "id_user field")
        h.expect(first["at"].endswith("Z") and "T" in first["at"], f"at is ISO UTC: {first['at']}")

    with h.step("Redis down: changes wait in the outbox and all arrive when it is back"):
        stores.redis_stop()
        waiting = [place() for _ in range(3)]
        for order_id in waiting:
            change(order_id, "paid")
        change(waiting[0], "cancelled")
        h.expect_eq(unsent(stores), 7, "unsent while Redis is down")
        stores.redis_start()
        expect_all_delivered("after the Redis outage")
        text = call(svc.port, "GET", "/metrics").body.decode()
        h.expect('order_outbox_relay_errors_total{stage="redis"}' in text, "redis errors exported")

    with h.step("the service restarts mid-way: nothing lost"):
        stores.redis_stop()
        order_id = place()
        change(order_id, "paid")
        svc = restart_service(h, svc)
        change(order_id, "shipped")
        stores.redis_start()
        expect_all_delivered("after the restart")

    with h.step("PostgreSQL down: 503, then orders and events flow again"):
        stores.pg_stop()
        r = call(svc.port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 1},
                 user=alice)
        h.expect_eq(r.status, 503, f"place while down ({r.body!r})")
        h.expect_eq(call(svc.port, "GET", "/api/orders", user=alice).status, 503, "list while down")
        h.expect_eq(call(svc.port, "GET", "/ready").status, 503, "not ready")
        stores.pg_start()
        ok = wait_until(lambda: call(svc.port, "GET", "/ready").status == 200, timeout=15)
        h.expect(ok, "ready again")
        order_id = place()
        change(order_id, "paid")
        expect_all_delivered("after the PostgreSQL outage")

    with h.step("two instances: one relays, each event published once"):
        other = start_service(h, "order-service", stores, **settings)
        for port in (svc.port, other.port):
            order_id = place(port)
            change(order_id, "paid", port)
            change(order_id, "cancelled", port)
        expect_all_delivered("two instances")

        def leaders():
            total = 0
            for port in (svc.port, other.port):
                for line in call(port, "GET", "/metrics").body.decode().splitlines():
                    if line.startswith("order_outbox_relay_leader "):
                        total += float(line.split()[1])
            return total

        h.expect_eq(leaders(), 1.0, "one leader")
        # The leader stops: the other takes the lock over within a tick or two.
        svc.terminate()
        order_id = place(other.port)
        change(order_id, "paid", other.port)
        expect_all_delivered("after the leader left")

    with h.step("a user's stream with no event for relay.user_retention is removed"):
        index = STREAM + ":user-streams"
        own = f"{STREAM}:user:{alice}"
        score = stores.redis_cli("ZSCORE", index, own)
        h.expect(score and abs(float(score) / 1000 - time.time()) < 120,
                 f"the relay records the stream's last write ({score!r})")
        # An idle user: a stream whose last write the index puts a minute back.
        idle = f"{STREAM}:user:999999"
        stores.redis_cli("XADD", idle, "*", "status", "paid")
        stores.redis_cli("ZADD", index, str(int((time.time() - 60) * 1000)), idle)
        # A stream an older version wrote: no index entry until the sweeper's start-up pass.
        older = f"{STREAM}:user:888888"
        stores.redis_cli("XADD", older, "*", "status", "paid")
        sweeper = start_service(h, "order-service", stores, relay__user_retention="30s",
                                relay__sweep_interval="200ms", **settings)
        gone = wait_until(lambda: stores.redis_cli("EXISTS", idle) == "0", timeout=10)
        h.expect(gone, "the idle stream is deleted")
        h.expect_eq(stores.redis_cli("ZSCORE", index, idle), "", "and its index entry")
        h.expect_eq(stores.redis_cli("EXISTS", own), "1", "a recently written stream stays")
        h.expect(stores.redis_cli("ZSCORE", index, older) != "",
                 "a stream written before the index is entered at start")
        h.expect_eq(stores.redis_cli("EXISTS", older), "1", "and kept until its time is up")
        h.expect_eq(stores.redis_cli("TTL", STREAM), "-1", "the shared stream is untouched")
        text = call(sweeper.port, "GET", "/metrics").body.decode()
        h.expect("order_user_streams_removed_total 1" in text, "counted in the metric")


run(test)
