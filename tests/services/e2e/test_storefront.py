"""The shop's edge, as config/stack.yaml sets it up: the storefront (web/) served by the
balancer's static files (HTML, types, ETag and 304, compressed), JSON compressed with each
encoding its own variant in the edge cache (test_edge_cache covers the cache alone), and the
page itself in headless Chromium (storefront.mjs): sign in, order, and see the courier's
status changes pushed over the WebSocket."""
import gzip
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import (REPO, Stores, call, dev_keys, free_port, run,  # noqa: E402
                     shop_balancer_config, start_service, wait_until)

WEB = REPO / "web"


def edge_cache(r):
    """The balancer's X-Cache: the last field (product-service sends its own Redis one first)."""
    values = r.headers.get_all("X-Cache") or []
    return values[-1] if values else None


def test(h):
    stores = Stores(h, seed=True)
    key = dev_keys(h)
    jwks = h.dir / "jwks.json"
    users = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "jwt.jwks_file": jwks,
        "password.memory_kib": 1024, "password.iterations": 1,
        "seed.courier_email": "courier@shop.test", "seed.courier_password": "courier-pass"})
    services = {"users": users,
                "products": start_service(h, "product-service", stores),
                "orders": start_service(h, "order-service", stores),
                "notifications": start_service(h, "notification-service", stores)}
    lb_port = free_port()
    config = shop_balancer_config(lb_port, jwks, {n: s.port for n, s in services.items()},
                                  web=WEB)
    h.balancer(config, lb_port).wait_port(lb_port)
    for svc in services.values():
        wait_until(lambda: call(svc.port, "GET", "/ready").status == 200, 15)

    def api(method, path, body=None, token=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return call(lb_port, method, path, body, headers=headers)

    def login(email, password):
        r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
            api("POST", "/api/auth/login", {"email": email, "password": password})), 10)
        assert r is not None, f"login {email} failed"
        return r.json()["access_token"]

    with h.step("the storefront: HTML at /, its script and style with their types"):
        page = api("GET", "/")
        h.expect_eq(page.status, 200, "GET /")
        h.expect(page.header("Content-Type", "").startswith("text/html"), "text/html")
        h.expect_eq(page.body, (WEB / "index.html").read_bytes(), "index.html")
        for name, kind in (("shop.js", "text/javascript"), ("shop.css", "text/css")):
            r = api("GET", f"/{name}")
            h.expect_eq((r.status, r.header("Content-Type", "").split(";")[0]), (200, kind), name)
        tag = page.header("ETag")
        h.expect(bool(tag), "an ETag")
        h.expect_eq(api("GET", "/", headers={"If-None-Match": tag}).status, 304, "304")
        r = api("GET", "/shop.js", headers={"Accept-Encoding": "gzip"})
        h.expect_eq(r.header("Content-Encoding"), "gzip", "shop.js compressed")
        h.expect_eq(gzip.decompress(r.body), (WEB / "shop.js").read_bytes(), "byte-exact")
        h.expect_eq(api("GET", "/no-such-file").status, 404, "no such file")

    with h.step("JSON compressed; each encoding is its own variant in the edge cache"):
        page = "/api/products?limit=4"
        zipped = api("GET", page, headers={"Accept-Encoding": "gzip"})
        h.expect_eq(zipped.header("Content-Encoding"), "gzip", "the list compressed")
        h.expect("accept-encoding" in (zipped.header("Vary") or "").lower(), "Vary")
        listed = json.loads(gzip.decompress(zipped.body)) if zipped.body[:2] == b"\x1f\x8b" else {}
        h.expect_eq(len(listed.get("items", [])), 4, "the gzip client's list")
        plain = api("GET", page)
        h.expect_eq(plain.header("Content-Encoding"), None, "a client without gzip: plain")
        h.expect(plain.body[:1] == b"{" and json.loads(plain.body) == listed,
                 f"plain JSON, the same list: {plain.body[:20]!r}")
        again = api("GET", page, headers={"Accept-Encoding": "gzip"})
        h.expect_eq((edge_cache(again), again.header("Content-Encoding")), ("HIT", "gzip"),
                    "the gzip variant from the cache")

    with h.step("in Chromium: sign in, order, see paid and shipped pushed live"):
        email, password = "sari@example.com", "rahasia-456"
        r = api("POST", "/api/users", {"email": email, "password": password, "name": "Sari"})
        h.expect_eq(r.status, 201, f"register {r.body!r}")
        courier = login("courier@shop.test", "courier-pass")
        shot = h.dir / "storefront.png"
        run_page = h.node(str(Path(__file__).with_name("storefront.mjs")),
                          f"http://127.0.0.1:{lb_port}/", shot, email, password, courier,
                          timeout=90)
        h.expect_eq(run_page.returncode, 0, f"storefront.mjs: {run_page.stderr[-2000:]}")
        out = json.loads(run_page.stdout.strip().splitlines()[-1])
        h.expect_eq(out["error"], "", "no error in the page")
        h.expect(out["products"] >= 3, f"products listed: {out['products']}")
        h.expect_eq(out["seen"], ["created", "paid", "shipped"], "statuses shown")
        h.expect_eq(out["live"], "Live updates: on", "live")
        h.expect_eq(out["message"], f"Order #{out['order']} is now shipped.", "the last news")
        mine = api("GET", f"/api/orders/{out['order']}", token=login(email, password))
        h.expect_eq(mine.json().get("status"), "shipped", "the order as the API has it")
        h.expect(shot.exists() and shot.stat().st_size > 5000, "a screenshot")
        if os.environ.get("STOREFRONT_SCREENSHOT"):
            shutil.copy(shot, os.environ["STOREFRONT_SCREENSHOT"])


if __name__ == "__main__":
    run(test, deadline=170)
