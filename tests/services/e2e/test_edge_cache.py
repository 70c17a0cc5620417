"""Product reads cached at the edge, as config/stack.yaml sets it up: the balancer's cache
keeps what product-service allows (Cache-Control public, max-age; strong ETag), so a second
read is a HIT with Age that product-service never sees; a PUT through the balancer drops the
product (its URI), and a POST drops the cached 404 of the id it creates (its Location)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import (Stores, call, dev_keys, free_port, run,  # noqa: E402
                     shop_balancer_config, start_service, wait_until)


def edge_cache(r):
    """The balancer's X-Cache: the last field (product-service sends its own Redis one first)."""
    values = r.headers.get_all("X-Cache") or []
    return values[-1] if values else None


def origin_reads(port):
    """How many product reads product-service has answered (Redis hits, misses, outages)."""
    text = call(port, "GET", "/metrics").body.decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('product_cache_lookups_total{kind="product"'))


def test(h):
    stores = Stores(h, seed=True)
    key = dev_keys(h)
    jwks = h.dir / "jwks.json"
    users = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "jwt.jwks_file": jwks,
        "password.memory_kib": 1024, "password.iterations": 1,
        "seed.admin_email": "admin@shop.test", "seed.admin_password": "admin-pass"})
    products = start_service(h, "product-service", stores)
    ports = {"users": users.port, "products": products.port, "orders": free_port(),
             "notifications": free_port()}
    lb_port = free_port()
    h.balancer(shop_balancer_config(lb_port, jwks, ports, edge_cache=True),
               lb_port).wait_port(lb_port)
    for svc in (users, products):
        wait_until(lambda: call(svc.port, "GET", "/ready").status == 200, 15)

    def api(method, path, body=None, token=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return call(lb_port, method, path, body, headers=headers)

    r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
        api("POST", "/api/auth/login", {"email": "admin@shop.test", "password": "admin-pass"})), 10)
    assert r is not None, "admin login failed"
    admin = r.json()["access_token"]
    items = wait_until(lambda: (lambda x: x.json()["items"] if x.status == 200 else None)(
        api("GET", "/api/products?limit=10")), 10)
    h.expect(items and len(items) >= 3, f"seeded products: {items}")
    path = f"/api/products/{items[0]['id']}"

    with h.step("a second read is the edge's: HIT with Age, product-service not asked"):
        a = api("GET", path)
        asked = origin_reads(products.port)
        b = api("GET", path)
        h.expect_eq((edge_cache(a), edge_cache(b)), ("MISS", "HIT"), "the balancer's X-Cache")
        h.expect(b.header("Age") is not None, f"Age on a hit: {b.headers.items()}")
        h.expect_eq((b.body, b.header("ETag"), b.header("Cache-Control")),
                    (a.body, a.header("ETag"), a.header("Cache-Control")), "the stored answer")
        with_token = api("GET", path, token=admin)
        h.expect_eq(edge_cache(with_token), "HIT", "with a token too (the service says public)")
        h.expect_eq(origin_reads(products.port), asked, "product-service not asked again")

    with h.step("a PUT through the balancer drops the product from the edge"):
        r = api("PUT", path, {"price": items[0]["price"] + 1}, token=admin)
        h.expect_eq((r.status, r.header("Content-Location")), (200, path), "PUT")
        c = api("GET", path)
        h.expect_eq((edge_cache(c), c.json()["price"]), ("MISS", items[0]["price"] + 1),
                    "a miss with the new price")
        h.expect(c.header("ETag") != a.header("ETag"), "a new ETag")
        h.expect_eq(edge_cache(api("GET", path)), "HIT", "then cached again")

    with h.step("a POST drops the cached 404 of the id it creates (its Location)"):
        next_id = int(stores.psql("SELECT max(id) + 1 FROM products")[0][0])
        ghost = f"/api/products/{next_id}"
        first, second = api("GET", ghost), api("GET", ghost)
        h.expect_eq((first.status, edge_cache(second), second.status), (404, "HIT", 404),
                    "the 404 cached (public, max-age=5)")
        r = api("POST", "/api/products", {"name": "Gula Aren", "price": 21000}, token=admin)
        h.expect_eq((r.status, r.header("Location")), (201, ghost), "POST")
        r = api("GET", ghost)
        h.expect_eq((r.status, edge_cache(r)), (200, "MISS"), "found at once, not the 404")


if __name__ == "__main__":
    run(test, deadline=120)
