"""product-service endpoints against a real PostgreSQL and Redis: create, get, list (pages,
substring filter with LIKE metacharacters taken literally), partial update, soft delete, and
the errors (400 naming the field or parameter, 401, 403, 404)."""
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixture import Stores, call, run, start_service  # noqa: E402
from product_helpers import ADMIN, body, create  # noqa: E402

FIELDS = {"id", "name", "description", "price", "stock", "created_at", "updated_at"}


def test(h):
    stores = Stores(h)
    port = start_service(h, "product-service", stores).port
    made = {}

    with h.step("POST creates a product: 201, Location, every field"):
        r = call(port, "POST", "/api/products",
                 {"name": "Kopi Susu", "description": "es kopi", "price": 15000, "stock": 10},
                 **ADMIN)
        h.expect_eq(r.status, 201, "status")
        p = r.json()
        h.expect_eq(set(p), FIELDS, "fields")
        h.expect_eq((p["name"], p["description"], p["price"], p["stock"]),
                    ("Kopi Susu", "es kopi", 15000, 10), "values")
        h.expect(isinstance(p["id"], int) and p["id"] > 0, f"id {p['id']!r}")
        h.expect(p["created_at"].endswith("Z") and "T" in p["created_at"], p["created_at"])
        h.expect_eq(r.header("Location"), f"/api/products/{p['id']}", "Location")
        made["kopi"] = p

    with h.step("POST with only name and price: description '' and stock 0"):
        p = create(port, name="Teh", price=5000)
        h.expect_eq((p["description"], p["stock"]), ("", 0), "defaults")
        made["teh"] = p

    with h.step("GET /api/products/{id}"):
        r = call(port, "GET", f"/api/products/{made['kopi']['id']}")
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.json(), made["kopi"], "body")
        h.expect(r.header("X-Cache") in ("HIT", "MISS"), f"X-Cache {r.header('X-Cache')!r}")

    with h.step("list: pages by id with has_more"):
        for i in range(3):
            made[f"p{i}"] = create(port, name=f"Roti {i}", price=1000 + i)
        r = call(port, "GET", "/api/products?limit=2")
        h.expect_eq(r.status, 200, "status")
        page = r.json()
        h.expect_eq([p["id"] for p in page["items"]], [made["kopi"]["id"], made["teh"]["id"]],
                    "first page")
        h.expect_eq((page["limit"], page["offset"], page["has_more"]), (2, 0, True), "page info")
        last = body(call(port, "GET", "/api/products?limit=2&offset=4"))
        h.expect_eq([p["name"] for p in last["items"]], ["Roti 2"], "last page")
        h.expect_eq(last["has_more"], False, "has_more on the last page")
        default = body(call(port, "GET", "/api/products"))
        h.expect_eq((default["limit"], len(default["items"])), (20, 5), "default limit")

    with h.step("list: q is a case-insensitive substring; %, _ and \\ are literal"):
        create(port, name="Diskon 50% hari_ini", price=1)
        create(port, name="Diskon 500 hari ini", price=1)
        create(port, name="Back\\slash", price=1)

        def names(q):
            r = call(port, "GET", "/api/products?q=" + quote(q, safe=""))
            h.expect_eq(r.status, 200, f"q={q!r} status")
            return sorted(p["name"] for p in r.json()["items"])

        h.expect_eq(names("KOPI"), ["Kopi Susu"], "case-insensitive")
        h.expect_eq(names("50%"), ["Diskon 50% hari_ini"], "% literal")
        h.expect_eq(names("i_i"), ["Diskon 50% hari_ini"], "_ literal")
        h.expect_eq(names("\\"), ["Back\\slash"], "backslash literal")
        h.expect_eq(names("diskon"), ["Diskon 50% hari_ini", "Diskon 500 hari ini"], "both")
        h.expect_eq(names("x" * 256), [], "a long q (256 bytes, the most allowed)")
        r = call(port, "GET", "/api/products?q=" + "x" * 3000)
        h.expect_eq(r.status, 400, "a q past 256 bytes")
        h.expect(r.json()["error"].startswith("q"), f"names q: {r.body!r}")
        h.expect_eq(names("kopi susu"), ["Kopi Susu"], "with a space")
        r = call(port, "GET", "/api/products?q=roti+1")
        h.expect_eq([p["name"] for p in r.json()["items"]], ["Roti 1"], "'+' is a space")

    with h.step("PUT updates only the given fields"):
        pid = made["teh"]["id"]
        r = call(port, "PUT", f"/api/products/{pid}", {"price": 6000, "stock": 4}, **ADMIN)
        h.expect_eq(r.status, 200, "status")
        p = r.json()
        h.expect_eq((p["name"], p["price"], p["stock"]), ("Teh", 6000, 4), "values")
        h.expect(p["updated_at"] >= made["teh"]["updated_at"], "updated_at moved")
        h.expect_eq(body(call(port, "GET", f"/api/products/{pid}")), p, "GET after PUT")
        r = call(port, "PUT", f"/api/products/{pid}", {"name": "Teh Manis"}, **ADMIN)
        h.expect_eq((r.status, r.json()["name"], r.json()["price"]), (200, "Teh Manis", 6000),
                    "name only")

    with h.step("DELETE is a soft delete: 204, then 404 and gone from lists"):
        pid = made["p0"]["id"]
        r = call(port, "DELETE", f"/api/products/{pid}", **ADMIN)
        h.expect_eq((r.status, r.body), (204, b""), "status and body")
        h.expect_eq(call(port, "GET", f"/api/products/{pid}").status, 404, "GET after")
        ids = [p["id"] for p in body(call(port, "GET", "/api/products?limit=100"))["items"]]
        h.expect(pid not in ids, "not listed")
        h.expect_eq(call(port, "GET", "/api/products?q=roti+0").json()["items"], [], "not found")
        rows = stores.psql(f"SELECT deleted_at IS NOT NULL FROM products WHERE id = {pid}")
        h.expect_eq(rows, [["t"]], "the row is kept with deleted_at")
        h.expect_eq(call(port, "DELETE", f"/api/products/{pid}", **ADMIN).status, 404,
                    "deleting again")
        h.expect_eq(call(port, "PUT", f"/api/products/{pid}", {"price": 1}, **ADMIN).status, 404,
                    "updating a deleted one")

    with h.step("identity: 401 without, 403 without the admin role"):
        for method, path in [("POST", "/api/products"), ("PUT", "/api/products/1"),
                             ("DELETE", "/api/products/1")]:
            r = call(port, method, path, {"name": "x", "price": 1})
            h.expect_eq(r.status, 401, f"{method} anonymous")
            r = call(port, method, path, {"name": "x", "price": 1}, user=5, roles=["customer"])
            h.expect_eq(r.status, 403, f"{method} as a customer")
        h.expect_eq(call(port, "GET", "/api/products/1", user=5, roles=["customer"]).status, 200,
                    "reads need no role")

    with h.step("bad bodies: 400 naming the field"):
        cases = [
            ('{"name": "x", "price": 1', None),
            ([1, 2], None),
            ({"price": 1}, "name"),
            ({"name": "x"}, "price"),
            ({"name": "x", "price": -1}, "price"),
            ({"name": "x", "price": "10"}, "price"),
            ({"name": "x", "price": 1.5}, "price"),
            ({"name": "", "price": 1}, "name"),
            ({"name": "n" * 201, "price": 1}, "name"),
            ({"name": "x", "price": 1, "stock": -1}, "stock"),
            ({"name": "x", "price": 1, "stock": "many"}, "stock"),
            ({"name": "x", "price": 1, "description": 7}, "description"),
        ]
        for sent, field in cases:
            r = call(port, "POST", "/api/products", sent, headers={"Content-Type": "application/json"},
                     **ADMIN)
            h.expect_eq(r.status, 400, f"POST {sent!r:.60}")
            if field:
                h.expect(field in r.json().get("error", ""), f"error names {field}: {r.body!r}")
        h.expect(create(port, name="n" * 200, price=0)["id"] > 0, "200 characters are fine")
        pid = made["kopi"]["id"]
        r = call(port, "PUT", f"/api/products/{pid}", {}, **ADMIN)
        h.expect_eq(r.status, 400, "PUT with nothing to update")
        r = call(port, "PUT", f"/api/products/{pid}", {"price": -5}, **ADMIN)
        h.expect_eq(r.status, 400, "PUT with a negative price")
        h.expect_eq(body(call(port, "GET", f"/api/products/{pid}"))["price"], 15000,
                    "unchanged after bad PUTs")

    with h.step("unknown ids: 404"):
        for path in ["/api/products/999999", "/api/products/abc", "/api/products/0",
                     "/api/products/-3"]:
            h.expect_eq(call(port, "GET", path).status, 404, f"GET {path}")
        h.expect_eq(call(port, "PUT", "/api/products/999999", {"price": 1}, **ADMIN).status, 404,
                    "PUT")
        h.expect_eq(call(port, "DELETE", "/api/products/999999", **ADMIN).status, 404, "DELETE")

    with h.step("bad list parameters: 400 naming the parameter"):
        for query, name in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
                            ("limit=", "limit"), ("offset=-1", "offset"), ("offset=x", "offset"),
                            ("q=%zz", "q"), ("q=%ff", "q")]:
            r = call(port, "GET", "/api/products?" + query)
            h.expect_eq(r.status, 400, query)
            h.expect(r.status != 400 or r.json()["error"].startswith(name),
                     f"{query}: error names {name}: {r.body!r}")
        h.expect_eq(body(call(port, "GET", "/api/products?limit=100&offset=0"))["limit"], 100,
                    "limit=100 is allowed")


if __name__ == "__main__":
    run(test)
