"""order-service API against a real PostgreSQL: placing, reading, listing, status changes,
the errors, and Idempotency-Key (also when two requests with one key race)."""
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Stores, call, run, start_service  # noqa: E402
from seed import seed  # noqa: E402


def test(h):
    stores = Stores(h)
    ids = seed(stores)
    svc = start_service(h, "order-service", stores)
    port = svc.port
    alice, bob, courier, admin = ids["alice"], ids["bob"], ids["courier"], ids["admin"]

    def place(body, user=alice, headers=None):
        return call(port, "POST", "/api/orders", body, user=user, headers=headers)

    def status(order_id, value, user=courier, roles=("courier",)):
        return call(port, "POST", f"/api/orders/{order_id}/status", {"status": value},
                    user=user, roles=list(roles))

    order_id = None
    with h.step("place an order: 201 with the price of the product"):
        r = place({"id_produk": ids["kopi"], "jumlah": 3})
        h.expect_eq(r.status, 201, f"status ({r.body!r})")
        o = r.json()
        order_id = o["id_order"]
        for key, value in (("id_produk", ids["kopi"]), ("id_user", alice), ("harga", 15000),
                           ("jumlah", 3), ("total_harga", 45000), ("status", "created")):
            h.expect_eq(o.get(key), value, key)
        h.expect(isinstance(o.get("created_at"), str) and o["created_at"].endswith("Z"),
                 f"created_at in UTC: {o.get('created_at')!r}")
        rows = stores.psql(f"SELECT status, changed_by FROM order_status_history "
                           f"WHERE id_order = {order_id}")
        h.expect_eq(rows, [["created", str(alice)]], "history row")
        rows = stores.psql(f"SELECT type, payload->>'status', payload->>'event_id' = event_id::text"
                           f" FROM outbox WHERE aggregate_id = {order_id}")
        h.expect_eq(rows, [["order.status", "created", "t"]], "outbox row carries its event_id")

    with h.step("get it with its history; the owner and staff see it, others get 404"):
        r = call(port, "GET", f"/api/orders/{order_id}", user=alice)
        h.expect_eq(r.status, 200, "owner")
        body = r.json()
        h.expect_eq(body.get("total_harga"), 45000, "total_harga")
        h.expect_eq([e["status"] for e in body.get("history", [])], ["created"], "history")
        h.expect_eq(body["history"][0].get("changed_by"), alice, "changed_by")
        h.expect_eq(call(port, "GET", f"/api/orders/{order_id}", user=bob).status, 404, "bob")
        h.expect_eq(call(port, "GET", f"/api/orders/{order_id}", user=courier,
                         roles=["courier"]).status, 200, "courier")
        h.expect_eq(call(port, "GET", f"/api/orders/{order_id}", user=admin,
                         roles=["admin"]).status, 200, "admin")
        h.expect_eq(call(port, "GET", "/api/orders/999999", user=admin, roles=["admin"]).status,
                    404, "unknown order")
        h.expect_eq(call(port, "GET", "/api/orders/abc", user=alice).status, 404, "bad id")

    with h.step("status: created -> paid -> shipped -> delivered, with history"):
        for value in ("paid", "shipped", "delivered"):
            r = status(order_id, value)
            h.expect_eq(r.status, 200, f"to {value} ({r.body!r})")
        body = r.json()
        h.expect_eq(body.get("status"), "delivered", "final status")
        h.expect_eq([e["status"] for e in body.get("history", [])],
                    ["created", "paid", "shipped", "delivered"], "history in order")
        h.expect_eq([e["changed_by"] for e in body["history"]],
                    [alice, courier, courier, courier], "changed_by")
        r = call(port, "GET", f"/api/orders/{order_id}", user=alice)
        h.expect_eq(len(r.json().get("history", [])), 4, "history on GET")

    with h.step("bad transitions: 409 with the current status"):
        r = status(order_id, "paid")
        h.expect_eq(r.status, 409, "delivered -> paid")
        h.expect_eq(r.json().get("status"), "delivered", "current status in the body")
        r = status(order_id, "cancelled", user=admin, roles=["admin"])
        h.expect_eq(r.status, 409, "delivered -> cancelled")
        r2 = place({"id_produk": ids["teh"], "jumlah": 1})
        other = r2.json()["id_order"]
        h.expect_eq(status(other, "shipped").status, 409, "created -> shipped")
        h.expect_eq(status(other, "created").status, 409, "created -> created")
        h.expect_eq(status(other, "cancelled", user=admin, roles=["admin"]).status, 200,
                    "created -> cancelled by an admin")
        h.expect_eq(status(other, "paid").status, 409, "cancelled -> paid")

    with h.step("status errors: 400 unknown value, 403 customer, 401 anonymous, 404 unknown"):
        h.expect_eq(status(order_id, "refunded").status, 400, "unknown status")
        h.expect_eq(call(port, "POST", f"/api/orders/{order_id}/status", {}, user=courier,
                         roles=["courier"]).status, 400, "missing status")
        h.expect_eq(status(order_id, "paid", user=alice, roles=()).status, 403, "customer")
        h.expect_eq(call(port, "POST", f"/api/orders/{order_id}/status",
                         {"status": "paid"}).status, 401, "anonymous")
        h.expect_eq(status(987654, "paid").status, 404, "unknown order")

    with h.step("placing errors"):
        h.expect_eq(call(port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 1})
                    .status, 401, "no identity")
        h.expect_eq(place("{not json").status, 400, "bad JSON")
        h.expect_eq(place({"jumlah": 1}).status, 400, "missing id_produk")
        h.expect_eq(place({"id_produk": ids["kopi"]}).status, 400, "missing jumlah")
        h.expect_eq(place({"id_produk": ids["kopi"], "jumlah": 0}).status, 400, "jumlah 0")
        h.expect_eq(place({"id_produk": ids["kopi"], "jumlah": 1001}).status, 400, "jumlah 1001")
        h.expect_eq(place({"id_produk": ids["kopi"], "jumlah": "2"}).status, 400, "jumlah text")
        h.expect_eq(place({"id_produk": 999999, "jumlah": 1}).status, 422, "unknown product")
        h.expect_eq(place({"id_produk": ids["gone"], "jumlah": 1}).status, 422,
                    "deleted product")

    with h.step("list: mine only, newest first, keyset pages"):
        for _ in range(4):
            place({"id_produk": ids["teh"], "jumlah": 2}, user=bob)
        r = call(port, "GET", "/api/orders?limit=3", user=bob)
        h.expect_eq(r.status, 200, "status")
        page = r.json()
        first = [o["id_order"] for o in page["orders"]]
        h.expect_eq(len(first), 3, "page size")
        h.expect(all(o["id_user"] == bob for o in page["orders"]), "only bob's orders")
        h.expect_eq(first, sorted(first, reverse=True), "newest first")
        h.expect_eq(page.get("next_before"), first[-1], "next_before")
        r = call(port, "GET", f"/api/orders?limit=3&before={page['next_before']}", user=bob)
        rest = r.json()
        h.expect_eq(len(rest["orders"]), 1, "second page")
        h.expect_eq(rest.get("next_before"), None, "no third page")
        h.expect(rest["orders"][0]["id_order"] < first[-1], "older than the first page")
        h.expect_eq(call(port, "GET", "/api/orders?limit=0", user=bob).status, 400, "limit 0")
        h.expect_eq(call(port, "GET", "/api/orders?limit=101", user=bob).status, 400,
                    "limit 101")
        h.expect_eq(call(port, "GET", "/api/orders").status, 401, "anonymous")
        r = call(port, "GET", "/api/orders", user=alice)
        h.expect_eq(len(r.json()["orders"]), 2, "alice's orders")

    with h.step("Idempotency-Key: the same order again, nothing new; another body 422"):
        key = {"Idempotency-Key": "checkout-123"}
        r1 = place({"id_produk": ids["kopi"], "jumlah": 2}, headers=key)
        r2 = place({"id_produk": ids["kopi"], "jumlah": 2}, headers=key)
        h.expect_eq(r1.status, 201, "first")
        h.expect_eq(r2.status, 201, "again")
        h.expect_eq(r2.json().get("id_order"), r1.json().get("id_order"), "same order")
        h.expect_eq(r2.header("Idempotent-Replayed"), "true", "replay header")
        rows = stores.psql("SELECT count(*) FROM orders WHERE idempotency_key = 'checkout-123'")
        h.expect_eq(rows, [["1"]], "one row")
        rows = stores.psql(f"SELECT count(*) FROM outbox WHERE aggregate_id = "
                           f"{r1.json()['id_order']}")
        h.expect_eq(rows, [["1"]], "one event")
        h.expect_eq(place({"id_produk": ids["kopi"], "jumlah": 5}, headers=key).status, 422,
                    "same key, other body")
        r3 = place({"id_produk": ids["kopi"], "jumlah": 2}, user=bob, headers=key)
        h.expect_eq(r3.status, 201, "same key, another user")
        h.expect(r3.json().get("id_order") != r1.json().get("id_order"), "another order")
        h.expect_eq(place({"id_produk": ids["kopi"], "jumlah": 2},
                          headers={"Idempotency-Key": "k" * 256}).status, 400, "key too long")

    with h.step("Idempotency-Key: concurrent requests with one key make one order"):
        results = []
        lock = threading.Lock()

        def worker():
            r = place({"id_produk": ids["teh"], "jumlah": 1},
                      headers={"Idempotency-Key": "race-1"})
            with lock:
                results.append(r)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        h.expect_eq(sorted(r.status for r in results), [201] * 8, "all answered 201")
        h.expect_eq(len({r.json()["id_order"] for r in results}), 1, "one id_order")
        rows = stores.psql("SELECT count(*) FROM orders WHERE idempotency_key = 'race-1'")
        h.expect_eq(rows, [["1"]], "one row")

    with h.step("metrics"):
        r = call(port, "GET", "/metrics")
        text = r.body.decode()
        for name in ("order_orders_placed_total", "order_outbox_events_published_total",
                     "order_outbox_backlog", "order_outbox_relay_errors_total"):
            h.expect(name in text, f"{name} exported")


run(test)
