"""The whole shop through the balancer, as a client sees it: register, login, list products,
place an order, a courier moves it to delivered, a WebSocket (npm ws, token in
?access_token=) receives each status in order, and the order's history matches. Then no
loss: the notification service stopped while statuses change, and Redis stopped while they
change: every event arrives once."""
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import (Stores, WsListener, call, dev_keys, free_port, restart_service,  # noqa: E402
                     run, shop_balancer_config, start_service, wait_until)


def test(h):
    stores = Stores(h, seed=True)
    key = dev_keys(h)
    jwks = h.dir / "jwks.json"
    users = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "jwt.jwks_file": jwks,
        "password.memory_kib": 1024, "password.iterations": 1,
        "seed.courier_email": "courier@shop.test", "seed.courier_password": "courier-pass"})
    products = start_service(h, "product-service", stores)
    orders = start_service(h, "order-service", stores)
    notifications = start_service(h, "notification-service", stores)
    ports = {"users": users.port, "products": products.port, "orders": orders.port,
             "notifications": notifications.port}
    lb_port = free_port()
    lb = h.balancer(shop_balancer_config(lb_port, jwks, ports), lb_port)
    lb.wait_port(lb_port)
    for svc in (users, products, orders, notifications):
        wait_until(lambda: call(svc.port, "GET", "/ready").status == 200, 15)

    def api(method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return call(lb_port, method, path, body, headers=headers)

    def login(email, password):
        r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
            api("POST", "/api/auth/login", {"email": email, "password": password})), 10)
        assert r is not None, f"login {email} failed"
        return r.json()["access_token"]

    with h.step("register and login through the balancer"):
        r = api("POST", "/api/users", {"email": "budi@example.com", "password": "rahasia-123",
                                       "name": "Budi"})
        h.expect_eq(r.status, 201, f"register {r.body!r}")
        token = login("budi@example.com", "rahasia-123")
        courier = login("courier@shop.test", "courier-pass")
        r = api("GET", "/api/users/me", token=token)
        h.expect_eq(r.json().get("email"), "budi@example.com", "/users/me")
        h.expect_eq(api("GET", "/api/users/me").status, 401, "no token: the balancer says 401")

    with h.step("list products: the seed is there"):
        r = api("GET", "/api/products?limit=10")
        h.expect_eq(r.status, 200, "status")
        items = r.json()["items"]
        h.expect(len(items) >= 3, f"seeded products listed: {len(items)}")
        product = items[0]

    ws_url = f"ws://127.0.0.1:{lb_port}/ws/notifications?access_token={token}"
    with h.step("place an order, a courier delivers it, the WebSocket sees every status"):
        ws = WsListener(h, ws_url)
        ws.wait_open()
        r = api("POST", "/api/orders", {"id_produk": product["id"], "jumlah": 3}, token=token)
        h.expect_eq(r.status, 201, f"order {r.body!r}")
        order = r.json()
        h.expect_eq(order["harga"], product["price"], "harga from the product")
        h.expect_eq(order["total_harga"], product["price"] * 3, "total_harga")
        oid = order["id_order"]
        r = api("POST", f"/api/orders/{oid}/status", {"status": "paid"}, token=token)
        h.expect_eq(r.status, 403, "a customer cannot move it")
        for status in ("paid", "shipped", "delivered"):
            r = api("POST", f"/api/orders/{oid}/status", {"status": status}, token=courier)
            h.expect_eq(r.status, 200, f"courier sets {status}: {r.body!r}")
        got = ws.wait_messages(4, timeout=15)
        mine = [m for m in got if m["id_order"] == oid]
        h.expect_eq([m["status"] for m in mine], ["created", "paid", "shipped", "delivered"],
                    "statuses pushed in order")
        h.expect(all(m["type"] == "order.status" and m["event_id"] and m["at"] for m in mine),
                 f"message shape: {mine[:1]}")
        r = api("GET", f"/api/orders/{oid}", token=token)
        h.expect_eq([x["status"] for x in r.json()["history"]],
                    ["created", "paid", "shipped", "delivered"], "history matches")
        last_seen = mine[-1]["event_id"]
        ws.close()

    with h.step("no loss: notification-service down while statuses change"):
        r = api("POST", "/api/orders", {"id_produk": product["id"], "jumlah": 1}, token=token)
        oid2 = r.json()["id_order"]
        notifications.terminate()
        for status in ("paid", "shipped"):
            h.expect_eq(api("POST", f"/api/orders/{oid2}/status", {"status": status},
                            token=courier).status, 200, f"set {status} while it is down")
        again = restart_service(h, notifications)
        wait_until(lambda: call(again.port, "GET", "/ready").status == 200, 15)
        ws = WsListener(h, ws_url + f"&last_event_id={last_seen}")
        wait_until(lambda: (ws.opened or ws.proc.poll() is not None), 10)
        if not ws.opened:  # the balancer may still think the backend is down for a moment
            time.sleep(1)
            ws = WsListener(h, ws_url + f"&last_event_id={last_seen}")
            ws.wait_open()
        got = ws.wait_messages(3, timeout=15)
        h.expect_eq([(m["id_order"], m["status"]) for m in got],
                    [(oid2, "created"), (oid2, "paid"), (oid2, "shipped")],
                    "missed events, once each, in order")
        time.sleep(0.5)
        h.expect_eq(len(ws.messages()), 3, "nothing more")

    with h.step("no loss: Redis down while statuses change; the outbox delivers after"):
        stores.redis_stop()
        h.expect_eq(api("POST", f"/api/orders/{oid2}/status", {"status": "delivered"},
                        token=courier).status, 200, "status change while Redis is down")
        r = api("POST", "/api/orders", {"id_produk": product["id"], "jumlah": 2}, token=token)
        h.expect_eq(r.status, 201, "an order while Redis is down")
        oid3 = r.json()["id_order"]
        stores.redis_start()
        got = ws.wait_messages(5, timeout=20)
        h.expect_eq([(m["id_order"], m["status"]) for m in got[3:]],
                    [(oid2, "delivered"), (oid3, "created")], "events after Redis returned")
        ids = [m["event_id"] for m in ws.messages()]
        h.expect_eq(len(ids), len(set(ids)), "each event once")
        rows = stores.psql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        h.expect_eq(rows[0][0], "0", "outbox drained")

    with h.step("every service's /metrics passes promtool check metrics"):
        for svc in (users, products, orders, again):
            text = call(svc.port, "GET", "/metrics").body
            r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               timeout=30)
            h.expect_eq(r.returncode, 0, f"{svc.binary}: {(r.stdout + r.stderr).decode()[:500]}")


if __name__ == "__main__":
    run(test, deadline=170)
