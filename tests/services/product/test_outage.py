"""product-service with PostgreSQL stopped: a cold read, a list and a write answer 503 (with
Retry-After), a product already cached keeps being served from Redis (HIT: the choice made for
reads during a database outage), /ready says so; when PostgreSQL is back, everything answers
again without a restart. A restart while the service is idle fails no request."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Stores, call, run, start_service, wait_until  # noqa: E402
from product_helpers import ADMIN, create  # noqa: E402


def test(h):
    stores = Stores(h)
    port = start_service(h, "product-service", stores, cache__ttl="60s").port
    warm = create(port, name="Warm", price=100)
    cold = create(port, name="Cold", price=200)
    warm_path = f"/api/products/{warm['id']}"
    cold_path = f"/api/products/{cold['id']}"

    with h.step("PostgreSQL stopped: cold reads and writes 503, cached reads HIT"):
        call(port, "GET", warm_path)
        h.expect_eq(call(port, "GET", warm_path).header("X-Cache"), "HIT", "warm is cached")
        stores.pg_stop()
        r = call(port, "GET", cold_path)
        h.expect_eq(r.status, 503, f"cold read ({r.body[:120]!r})")
        h.expect_eq(r.header("Retry-After"), "1", "Retry-After")
        h.expect_eq(r.header("X-Cache"), "MISS", "X-Cache")
        r = call(port, "GET", warm_path)
        h.expect_eq((r.status, r.header("X-Cache"), r.json()), (200, "HIT", warm), "cached read")
        h.expect_eq(call(port, "GET", "/api/products?q=nothing-cached").status, 503, "list")
        h.expect_eq(call(port, "POST", "/api/products", {"name": "x", "price": 1}, **ADMIN).status,
                    503, "POST")
        h.expect_eq(call(port, "PUT", cold_path, {"price": 1}, **ADMIN).status, 503, "PUT")
        h.expect_eq(call(port, "GET", "/ready").status, 503, "/ready")
        h.expect_eq(call(port, "GET", "/health").status, 200, "/health")

    with h.step("PostgreSQL back: the service recovers by itself"):
        stores.pg_start()
        h.expect(wait_until(lambda: call(port, "GET", cold_path).status == 200, timeout=15),
                 "cold read answers again")
        r = call(port, "PUT", cold_path, {"price": 250}, **ADMIN)
        h.expect_eq((r.status, r.json().get("price")), (200, 250), "PUT")
        h.expect_eq(call(port, "GET", cold_path).json()["price"], 250, "read after PUT")
        h.expect_eq(call(port, "GET", "/api/products?q=nothing-cached").status, 200, "list")
        h.expect_eq(call(port, "GET", "/ready").status, 200, "/ready")

    with h.step("PostgreSQL restarted while the service is idle: the first request answers"):
        # The pool's connections were closed by the restart while they sat idle: each must be
        # replaced before its next query, not found broken by it (one 503 per connection).
        h.expect_eq(call(port, "GET", "/api/products?q=idle").status, 200, "a pooled connection")
        stores.pg_stop()
        stores.pg_start()
        h.expect(wait_until(lambda: stores.psql("SELECT 1") == [["1"]], timeout=15),
                 "PostgreSQL accepts connections")
        statuses = [call(port, "GET", f"/api/products?q=after{i}").status for i in range(6)]
        h.expect_eq(statuses, [200] * 6, "every request after the restart")


if __name__ == "__main__":
    run(test)
