"""notification-service with a real redis-server: pushes to the owner's sockets only, in order,
each event once; resume with last_event_id from the user's stream; survives a Redis restart;
refuses anonymous and malformed requests."""
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import Stores, WsListener, call, run, start_service, wait_until  # noqa: E402

STREAM = "order-status"


def publish(stores, user, order, status, event_id=None, user_stream=True):
    """What the order-service relay writes: the shared stream and the user's capped one."""
    event_id = event_id or str(uuid.uuid4())
    fields = ["event_id", event_id, "id_order", order, "id_user", user, "status", status,
              "at", "2026-11-21T10:00:00.000Z"]
    stores.redis_cli("XADD", STREAM, "*", *fields)
    if user_stream:
        stores.redis_cli("XADD", f"{STREAM}:user:{user}", "MAXLEN", "~", "1000", "*", *fields)
    return event_id


def test(h):
    stores = Stores(h, pg=False)
    svc = start_service(h, "notification-service", stores, stream=STREAM)
    url = f"ws://127.0.0.1:{svc.port}/ws/notifications"
    wait_until(lambda: call(svc.port, "GET", "/ready").status == 200, 10)

    with h.step("anonymous or malformed: refused before the upgrade"):
        h.expect_eq(call(svc.port, "GET", "/ws/notifications").status, 401, "no identity")
        r = call(svc.port, "GET", "/ws/notifications?last_event_id=x%27;DROP", user=5)
        h.expect_eq(r.status, 400, "bad last_event_id")
        r = call(svc.port, "GET", "/ws/notifications", user=5)
        h.expect_eq(r.status, 400, "no WebSocket handshake")

    ids = []
    with h.step("events reach their owner's sockets only, in order, with the contract's shape"):
        mine = WsListener(h, url, headers={"X-User-Id": "5"})
        mine2 = WsListener(h, url, headers={"X-User-Id": "5"})
        other = WsListener(h, url, headers={"X-User-Id": "6"})
        for ws in (mine, mine2, other):
            ws.wait_open()
        for status in ("created", "paid", "shipped"):
            ids.append(publish(stores, 5, 77, status))
        publish(stores, 6, 78, "created")
        got = mine.wait_messages(3)
        h.expect_eq([m["status"] for m in got], ["created", "paid", "shipped"], "statuses in order")
        h.expect_eq([m["event_id"] for m in got], ids, "event ids")
        h.expect_eq(got[0], {"type": "order.status", "id_order": 77, "status": "created",
                             "at": "2026-11-21T10:00:00.000Z", "event_id": ids[0]}, "shape")
        h.expect_eq(len(mine2.wait_messages(3)), 3, "the user's second socket too")
        h.expect_eq([m["id_order"] for m in other.wait_messages(1)], [78], "the other user's own")

    with h.step("an event published twice (at-least-once relay) is pushed once"):
        publish(stores, 5, 77, "delivered", event_id=ids[-1])
        last = publish(stores, 5, 79, "created")
        ids.append(last)
        got = mine.wait_messages(4)
        h.expect_eq([m["event_id"] for m in got], ids, "no duplicate")

    with h.step("resume: events missed while away arrive once, then live ones"):
        mine.close()
        mine2.close()
        seen = ids[1]  # the client saw only the first two
        back = WsListener(h, url + f"?last_event_id={seen}", headers={"X-User-Id": "5"})
        back.wait_open()
        got = back.wait_messages(2)
        h.expect_eq([m["event_id"] for m in got], ids[2:], "missed events replayed")
        live = publish(stores, 5, 80, "paid")
        got = back.wait_messages(3)
        h.expect_eq([m["event_id"] for m in got], ids[2:] + [live], "then live, once each")
        via_header = WsListener(h, url, headers={"X-User-Id": "5", "Last-Event-ID": ids[-1]})
        via_header.wait_open()
        h.expect_eq([m["event_id"] for m in via_header.wait_messages(1)], [live],
                    "Last-Event-ID header works too")

    with h.step("Redis restarted: the reader reconnects and nothing kept is lost"):
        listener = WsListener(h, url, headers={"X-User-Id": "9"})
        listener.wait_open()
        stores.redis_stop()
        stores.redis_start()
        after = publish(stores, 9, 90, "created")
        got = listener.wait_messages(1, timeout=15)
        h.expect_eq([m["event_id"] for m in got], [after], "event after the restart")

    with h.step("metrics count sockets and pushes"):
        text = call(svc.port, "GET", "/metrics").body.decode()
        h.expect("notification_events_pushed_total" in text, "pushed counter")
        h.expect('notification_resumes_total{result="ok"} 2' in text, f"resumes counted")


if __name__ == "__main__":
    run(test)
