"""product-service's answers to the caches in front of it (the balancer's edge cache,
browsers): Cache-Control with max-age and stale-while-revalidate (the settings
cache.edge_max_age and cache.edge_list_max_age), a strong ETag over the bytes, Date,
Last-Modified from updated_at, If-None-Match answered 304 on a Redis hit and on a miss, and
writes naming the product they changed (Location, Content-Location) so that a cache in front
drops it (RFC 9111 4.4)."""
import sys
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Stores, call, run, start_service  # noqa: E402
from product_helpers import ADMIN, create  # noqa: E402


def get(port, path, etag=None):
    return call(port, "GET", path, headers={"If-None-Match": etag} if etag else None)


def test(h):
    stores = Stores(h)
    # The item's max-age is the default (10 s); the list's is set, to show the setting works.
    port = start_service(h, "product-service", stores, cache__ttl="30s",
                         cache__edge_list_max_age="7s").port
    p = create(port, name="Teh", price=8000, stock=3)
    path = f"/api/products/{p['id']}"

    with h.step("a product: Cache-Control, strong ETag, Last-Modified, Date"):
        miss = get(port, path)
        hit = get(port, path)
        h.expect_eq((miss.status, miss.header("X-Cache"), hit.header("X-Cache")),
                    (200, "MISS", "HIT"), "MISS then HIT")
        h.expect_eq(miss.header("Cache-Control"), "public, max-age=10, stale-while-revalidate=30",
                    "Cache-Control")
        etag = miss.header("ETag") or ""
        h.expect(len(etag) > 2 and etag.startswith('"') and etag.endswith('"'),
                 f"a strong entity tag: {etag!r}")
        h.expect_eq(hit.header("ETag"), etag, "the same tag from Redis as from PostgreSQL")
        h.expect_eq(hit.header("Cache-Control"), miss.header("Cache-Control"), "same freshness")
        updated = datetime.strptime(p["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc, microsecond=0)
        h.expect_eq(parsedate_to_datetime(miss.header("Last-Modified")), updated,
                    "Last-Modified is updated_at")
        date = parsedate_to_datetime(miss.header("Date"))
        h.expect(abs((datetime.now(timezone.utc) - date).total_seconds()) < 60, "Date is now")

    with h.step("If-None-Match: 304 without a body, with the 200's cache fields"):
        r = get(port, path, etag)
        h.expect_eq((r.status, r.body, r.header("X-Cache")), (304, b"", "HIT"), "304 on a hit")
        h.expect_eq((r.header("ETag"), r.header("Cache-Control")),
                    (etag, miss.header("Cache-Control")), "ETag and Cache-Control kept")
        h.expect_eq(r.header("Last-Modified"), miss.header("Last-Modified"), "Last-Modified")
        h.expect_eq(r.header("Content-Length"), None, "no framing on a 304")
        h.expect_eq(get(port, path, "W/" + etag).status, 304, "weak comparison")
        h.expect_eq(get(port, path, f'"other", {etag}').status, 304, "a list naming it")
        h.expect_eq(get(port, path, "*").status, 304, "*")
        r = get(port, path, '"other"')
        h.expect_eq((r.status, r.json()["name"]), (200, "Teh"), "another tag: the 200")

    with h.step("PUT: Content-Location names the product; its tag changes"):
        r = call(port, "PUT", path, {"price": 9000}, **ADMIN)
        h.expect_eq((r.status, r.header("Content-Location")), (200, path), "PUT")
        r = get(port, path, etag)
        h.expect_eq((r.status, r.header("X-Cache"), r.json()["price"]), (200, "MISS", 9000),
                    "the old tag no longer matches")
        new_etag = r.header("ETag")
        h.expect(new_etag != etag, "a new tag")
        h.expect_eq(get(port, path, new_etag).status, 304, "the new one does")
        call(port, "PUT", path, {"price": 9500}, **ADMIN)
        r = get(port, path, get(port, path).header("ETag"))  # MISS fills, then HIT
        h.expect_eq(r.status, 304, "304 after the refill")
        call(port, "PUT", path, {"price": 9600}, **ADMIN)
        fresh_tag = get(port, path).header("ETag")
        call(port, "PUT", path, {"price": 9600}, **ADMIN)  # same fields: updated_at moves
        r = get(port, path, fresh_tag)
        h.expect_eq((r.status, r.header("X-Cache")), (200, "MISS"),
                    "a miss answers If-None-Match too (updated_at changed the bytes)")

    with h.step("a list page: its own max-age, ETag, 304; no Last-Modified"):
        a = get(port, "/api/products?limit=10")
        h.expect_eq(a.header("Cache-Control"), "public, max-age=7, stale-while-revalidate=21",
                    "cache.edge_list_max_age")
        h.expect_eq(a.header("Last-Modified"), None, "no Last-Modified")
        tag = a.header("ETag")
        r = get(port, "/api/products?limit=10", tag)
        h.expect_eq((r.status, r.header("X-Cache"), r.header("ETag")), (304, "HIT", tag), "304")
        made = call(port, "POST", "/api/products", {"name": "Susu", "price": 5000}, **ADMIN)
        h.expect_eq((made.status, made.header("Location")),
                    (201, f"/api/products/{made.json()['id']}"), "POST names the new product")
        r = get(port, "/api/products?limit=10", tag)
        h.expect_eq((r.status, len(r.json()["items"])), (200, 2), "a new page after the POST")

    with h.step("a 404 may be cached as long as Redis keeps it (cache.negative_ttl)"):
        r = get(port, "/api/products/999999")
        h.expect_eq((r.status, r.header("Cache-Control"), r.header("ETag")),
                    (404, "public, max-age=5", None), "404")


if __name__ == "__main__":
    run(test)
