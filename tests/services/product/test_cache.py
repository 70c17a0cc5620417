"""product-service's cache-aside in Redis: MISS then HIT, writes invalidating the product and
every list page, a cached 404 cleared by the POST that creates the id, single flight (many
concurrent misses of one key -> one PostgreSQL read), and Redis going away and coming back
(reads keep answering from PostgreSQL; a write made meanwhile is not hidden by the entry
Redis kept on disk)."""
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import DB, Stores, call, run, start_service, wait_until  # noqa: E402
from product_helpers import ADMIN, body, create, metric  # noqa: E402


def cache_of(r):
    return r.header("X-Cache")


def test(h):
    stores = Stores(h)
    port = start_service(h, "product-service", stores, cache__ttl="30s").port
    p = create(port, name="Kopi", price=15000, stock=5)
    path = f"/api/products/{p['id']}"

    with h.step("GET: MISS, then HIT with the same body"):
        first = call(port, "GET", path)
        second = call(port, "GET", path)
        h.expect_eq((first.status, cache_of(first)), (200, "MISS"), "first")
        h.expect_eq((second.status, cache_of(second)), (200, "HIT"), "second")
        h.expect_eq(second.body, first.body, "same body")
        h.expect_eq(first.json(), p, "the product")

    with h.step("PUT invalidates: MISS with the new value, then HIT"):
        r = call(port, "PUT", path, {"price": 17000}, **ADMIN)
        h.expect_eq(r.status, 200, "PUT")
        after = call(port, "GET", path)
        h.expect_eq((cache_of(after), after.json()["price"]), ("MISS", 17000), "after PUT")
        again = call(port, "GET", path)
        h.expect_eq((cache_of(again), again.json()["price"]), ("HIT", 17000), "then")

    with h.step("list: MISS, HIT, POST invalidates every page"):
        a = call(port, "GET", "/api/products?limit=10")
        b = call(port, "GET", "/api/products?limit=10")
        q = call(port, "GET", "/api/products?q=kop")
        h.expect_eq((cache_of(a), cache_of(b)), ("MISS", "HIT"), "first and second")
        h.expect_eq(cache_of(call(port, "GET", "/api/products?q=KOP")), "HIT",
                    "q differing in case shares the entry")
        added = create(port, name="Kopi Luwak", price=90000)
        c = call(port, "GET", "/api/products?limit=10")
        h.expect_eq(cache_of(c), "MISS", "after POST")
        h.expect_eq([x["id"] for x in c.json()["items"]], [p["id"], added["id"]], "new one listed")
        h.expect_eq(cache_of(call(port, "GET", "/api/products?limit=10")), "HIT", "then")
        q2 = call(port, "GET", "/api/products?q=kop")
        h.expect_eq((cache_of(q2), len(q2.json()["items"]), len(q.json()["items"])),
                    ("MISS", 2, 1), "the filtered page too")

    with h.step("PUT and DELETE invalidate lists too"):
        call(port, "GET", "/api/products?limit=10")
        call(port, "PUT", f"/api/products/{added['id']}", {"name": "Kopi Tubruk"}, **ADMIN)
        r = call(port, "GET", "/api/products?limit=10")
        h.expect_eq((cache_of(r), r.json()["items"][1]["name"]), ("MISS", "Kopi Tubruk"), "PUT")
        call(port, "DELETE", f"/api/products/{added['id']}", **ADMIN)
        r = call(port, "GET", "/api/products?limit=10")
        h.expect_eq((cache_of(r), len(r.json()["items"])), ("MISS", 1), "DELETE")
        r = call(port, "GET", f"/api/products/{added['id']}")
        h.expect_eq(r.status, 404, "deleted product")

    with h.step("a cached 404 is cleared by the POST that creates the id"):
        next_id = int(stores.psql("SELECT max(id) + 1 FROM products")[0][0])
        ghost = f"/api/products/{next_id}"
        h.expect_eq((call(port, "GET", ghost).status, cache_of(call(port, "GET", ghost))),
                    (404, "HIT"), "404 cached")
        made = create(port, name="Baru", price=1)
        h.expect_eq(made["id"], next_id, "the id created")
        r = call(port, "GET", ghost)
        h.expect_eq((r.status, cache_of(r)), (200, "MISS"), "found after POST")

    with h.step("single flight: 24 concurrent misses of one key -> one PostgreSQL read"):
        cold_id = int(stores.psql("INSERT INTO products (name, price) VALUES ('Cold', 7) "
                                  "RETURNING id")[0][0])
        loads = metric(port, "product_db_loads_total", kind="product")
        coalesced = metric(port, "product_db_loads_coalesced_total", kind="product")
        # Hold the table for a moment so that every request misses while the load waits.
        locker = subprocess.Popen(
            [str(DB), "psql", "-q", "-c", "BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE; "
             "SELECT pg_sleep(1); COMMIT;"], env=stores.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        h.cleanups.append(lambda: locker.poll() is None and locker.kill())
        wait_until(lambda: stores.psql("SELECT count(*) FROM pg_locks WHERE granted AND mode = "
                                       "'AccessExclusiveLock' AND relation = "
                                       "'products'::regclass")[0][0] == "1", timeout=5)
        results = [None] * 24

        def get(i):
            results[i] = call(port, "GET", f"/api/products/{cold_id}")

        threads = [threading.Thread(target=get, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        locker.wait(10)
        h.expect_eq({r.status for r in results if r}, {200}, "statuses")
        h.expect_eq(sum(1 for r in results if r and r.json()["name"] == "Cold"), 24, "bodies")
        h.expect_eq(metric(port, "product_db_loads_total", kind="product") - loads, 1,
                    "PostgreSQL reads")
        h.expect_eq(metric(port, "product_db_loads_coalesced_total", kind="product") - coalesced,
                    23, "coalesced waits")
        h.expect_eq(cache_of(call(port, "GET", f"/api/products/{cold_id}")), "HIT", "then cached")

    with h.step("Redis down: reads from PostgreSQL (MISS), writes work"):
        call(port, "GET", path)  # cached now, and kept on disk by redis-server
        stores.redis_stop()
        r = call(port, "GET", path)
        h.expect_eq((r.status, cache_of(r), r.json()["price"]), (200, "MISS", 17000), "GET")
        r = call(port, "GET", "/api/products?limit=5")
        h.expect_eq((r.status, cache_of(r)), (200, "MISS"), "list")
        start = time.monotonic()
        r = call(port, "PUT", path, {"price": 18000}, **ADMIN)
        h.expect_eq(r.status, 200, "PUT")
        h.expect(time.monotonic() - start < 1.5, "the PUT did not wait on Redis")
        r = call(port, "GET", path)
        h.expect_eq((r.status, r.json()["price"]), (200, 18000), "GET after PUT")
        h.expect_eq(metric(port, "product_cache_pending_invalidations"), 1,
                    "the invalidation waits for Redis")
        ready = call(port, "GET", "/ready")
        h.expect_eq(ready.status, 503, "/ready says Redis is down")

    with h.step("Redis back: the write made meanwhile wins, then HIT again"):
        stores.redis_start()
        seen = []

        def hit_again():
            r = call(port, "GET", path)
            seen.append((r.status, r.json().get("price")))
            return cache_of(r) == "HIT"

        h.expect(wait_until(hit_again, timeout=10, interval=0.1), "HIT again")
        h.expect_eq(set(seen), {(200, 18000)}, "every answer had the new price")
        h.expect_eq(metric(port, "product_cache_pending_invalidations"), 0, "replayed")
        h.expect_eq(call(port, "GET", "/ready").status, 200, "/ready")


if __name__ == "__main__":
    run(test)
