"""A flood of distinct searches against the stack's Redis (scripts/redis, with a small
REDIS_MAXMEMORY): q is capped, cache keys are hashed, searches that match nothing are not
cached, Redis memory stays bounded (past maxmemory it evicts cache entries, volatile-lru),
and the order-event streams, which carry no TTL, are never evicted: every event is there."""
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "order"))
from fixture import REPO, Stores, call, free_port, run, start_service, wait_until  # noqa: E402
from seed import seed  # noqa: E402

MAXMEMORY = 8 * 1024 * 1024
FLOOD_REQUESTS = 1500
FLOOD_SECONDS = 40


def info(stores, section, field):
    for line in stores.redis_cli("INFO", section).splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    return None


def list_keys(stores):
    return [k for k in stores.redis_cli("--scan", "--pattern", "products:list:*:*").split()
            if not k.endswith(":version")]


def test(h):
    stores = Stores(h, redis=False)
    env = dict(os.environ, REDIS_DIR=str(h.dir / "redis"), REDIS_PORT=str(free_port()),
               REDIS_MAXMEMORY=str(MAXMEMORY))
    script = str(REPO / "scripts" / "redis")
    subprocess.run([script, "start"], env=env, check=True, timeout=30, capture_output=True,
                   stdin=subprocess.DEVNULL)
    h.cleanups.append(lambda: subprocess.run([script, "stop"], env=env, timeout=45,
                                             capture_output=True, stdin=subprocess.DEVNULL))
    stores.redis_port = int(env["REDIS_PORT"])
    ids = seed(stores)
    stores.psql("INSERT INTO products (name, description, price, stock) "
                "SELECT 'kopi ' || g, repeat('deskripsi ', 100), 1000 + g, 10 "
                "FROM generate_series(1, 300) g")
    product = start_service(h, "product-service", stores)
    order = start_service(h, "order-service", stores)
    alice = ids["alice"]

    def place(n):
        for _ in range(n):
            r = call(order.port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 1},
                     user=alice)
            h.expect_eq(r.status, 201, f"order {r.body!r}")

    with h.step("scripts/redis bounds memory and evicts only keys with a TTL"):
        h.expect_eq(stores.redis_cli("CONFIG", "GET", "maxmemory-policy").split(),
                    ["maxmemory-policy", "volatile-lru"], "policy")
        h.expect_eq(info(stores, "memory", "maxmemory"), MAXMEMORY, "maxmemory")

    with h.step("q past 256 bytes: 400; searches that match nothing are not cached"):
        r = call(product.port, "GET", "/api/products?q=" + "a" * 257)
        h.expect_eq(r.status, 400, f"long q {r.body!r}")
        for i in range(100):
            r = call(product.port, "GET", f"/api/products?q=nothing-{i}")
            h.expect_eq(r.status, 200, "empty search")
        h.expect_eq(list_keys(stores), [], "no cache entry for empty pages")
        r = call(product.port, "GET", "/api/products?q=KOPI%201")
        h.expect(len(r.json()["items"]) > 0, "a search that matches")
        keys = list_keys(stores)
        h.expect_eq(len(keys), 1, f"cached: {keys}")
        h.expect(keys and "kopi" not in keys[0].lower(), f"q is hashed in the key: {keys}")

    place(5)

    with h.step(f"a flood of {FLOOD_REQUESTS} distinct searches: Redis memory stays bounded"):
        rng = random.Random(14)
        queries = [(rng.randrange(50, 101), rng.randrange(0, 250), rng.choice(["kopi", "KOPI", "opi", "kopi%20"]))
                   for _ in range(FLOOD_REQUESTS)]
        peak = [0]
        errors = []
        stop = time.monotonic() + FLOOD_SECONDS
        lock = threading.Lock()

        def flood(part):
            for limit, offset, q in part:
                if time.monotonic() > stop:
                    return
                try:
                    r = call(product.port, "GET",
                             f"/api/products?q={q}&limit={limit}&offset={offset}")
                    status = r.status
                except OSError as e:
                    status = type(e).__name__
                if status != 200:
                    with lock:
                        errors.append(status)

        threads = [threading.Thread(target=flood, args=(queries[i::6],)) for i in range(6)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak[0] = max(peak[0], info(stores, "memory", "used_memory") or 0)
            place(1)  # events keep flowing during the flood
            time.sleep(0.2)
        for t in threads:
            t.join()
        h.expect_eq(errors, [], "every search answered 200")
        evicted = info(stores, "stats", "evicted_keys")
        used = info(stores, "memory", "used_memory")
        print(f"   used_memory {used} (peak seen {peak[0]}), maxmemory {MAXMEMORY}, "
              f"evicted_keys {evicted}", flush=True)
        h.expect(evicted and evicted > 0, f"the bound was reached: evicted_keys {evicted}")
        h.expect(used <= MAXMEMORY * 1.05, f"used_memory {used} within maxmemory {MAXMEMORY}")
        h.expect(peak[0] <= MAXMEMORY * 1.25, f"peak used_memory {peak[0]}")

    with h.step("no event lost: every order's event in both streams, which have no TTL"):
        place(3)
        orders = int(stores.psql("SELECT count(*) FROM orders")[0][0])
        h.expect(wait_until(lambda: stores.psql(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == "0", timeout=20),
            "the relay sent every event")
        h.expect_eq(int(stores.redis_cli("XLEN", "order-status")), orders, "shared stream")
        own = f"order-status:user:{alice}"
        h.expect_eq(int(stores.redis_cli("XLEN", own)), orders, "the user's stream")
        h.expect_eq(stores.redis_cli("TTL", own), "-1", "the user's stream has no TTL")
        h.expect_eq(stores.redis_cli("TTL", "order-status"), "-1", "the shared stream has no TTL")
        h.expect_eq(call(product.port, "GET", "/health").status, 200, "product-service answers")


run(test)
