"""Every service's endpoints against random and hostile input (a property test, seeded and
bounded): JSON of the wrong types, huge numbers, deep nesting, ill-formed UTF-8, NUL
(\\u0000), overlong strings; the same in path segments, query parameters and
Idempotency-Key. No answer may be a 5xx (PostgreSQL refusing bad bytes used to make one),
and each service still answers a good request after.

SEED=N picks another sequence; ROUNDS=N (default 40) requests per endpoint."""
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "order"))
from fixture import Stores, call, dev_keys, run, start_service  # noqa: E402
from seed import seed  # noqa: E402

SEED = int(os.environ.get("SEED", "1405"))
ROUNDS = int(os.environ.get("ROUNDS", "40"))
BUDGET_S = 60  # the whole sweep stops here, whatever ROUNDS says

# Raw JSON text (bytes), for what json.dumps cannot make: bad UTF-8, lone surrogates.
RAW_STRINGS = [b'"\xff\xfe"', b'"caf\xc3"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\\ud800"',
               b'"\\udfff x"', b'"a\\u0000b"', b'"\\u0000"']
NUMBERS = [0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, -2**63 - 1, 10**30, -10**30, 1.5, -0.0,
           1e308, 3.14159e-300]


def hostile_string(rng):
    return rng.choice([
        "", " ", "\u0000", "a\u0000b", "x" * rng.choice([255, 256, 257, 1025, 70_000]),
        "\U0001F600" * 300, "é" * 129, "'; DROP TABLE users; --", "%00", "\\", "\"",
        "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(1, 40))),
    ])


def hostile_value(rng, depth=0):
    """A JSON text (bytes) of a random, often hostile, value."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice(RAW_STRINGS)
    if kind == 1:
        return json.dumps(rng.choice(NUMBERS)).encode()
    if kind == 2:
        return rng.choice([b"null", b"true", b"false", b"1e999", b"-1e999", b"123456789" * 5])
    if kind in (3, 4, 5):
        return json.dumps(hostile_string(rng)).encode()
    if kind == 6:
        return b"[" + b",".join(hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))) + b"]"
    if kind == 7:
        n = rng.choice([40, 1000, 20000])
        return b"[" * n + b"1" + b"]" * n
    return b"{" + b",".join(json.dumps(hostile_string(rng)).encode() + b":" +
                            hostile_value(rng, depth + 1) for _ in range(rng.randrange(3))) + b"}"


def hostile_body(rng, fields):
    """A body for an endpoint whose good body has `fields` (name -> good JSON text): one or two
    fields made hostile, or extra hostile keys, or a hostile body as a whole; sometimes the
    good body, so that what else is hostile (path, query, Idempotency-Key) gets through."""
    pick = rng.randrange(12)
    if pick >= 10:
        return b"{" + b",".join(json.dumps(k).encode() + b":" + v for k, v in fields.items()) + b"}"
    if pick == 0:
        return hostile_value(rng)
    if pick == 1:
        return rng.choice([b"", b"{", b"{\"a\":}", b"\xff\xfe{}", b"{}" * 3,
                           b"{\"a\": \"" + b"\xff" * 10 + b"\"}"])
    body = dict(fields)
    for name in rng.sample(sorted(body), k=min(len(body), rng.randrange(1, 3))):
        body[name] = hostile_value(rng)
    if pick == 2:
        body[rng.choice(["\u0000", "x" * 300, "é"])] = hostile_value(rng)
    if pick == 3:
        body[rng.choice(list(body))] = rng.choice(RAW_STRINGS)
    return b"{" + b",".join(json.dumps(k).encode() + b":" + v for k, v in body.items()) + b"}"


def hostile_segment(rng):
    return rng.choice(["%00", "%ff", "%c3%28", "%ed%a0%80", "1%00", "-1", "0", "99999999999999999999",
                       "abc", "%zz", "1.5", "x" * 300, "%C3%A9", "1e3", "+1"])


def hostile_query_value(rng):
    return rng.choice(["%00", "%ff", "%c3", "a%00b", "x" * 300, "%25" * 200, "-5", "1e9",
                       "99999999999999999999", "", "%zz", "caf%C3%A9", "kopi"])


def hostile_key(rng):
    return rng.choice([b"\xff\xfe", b"k\xc3", b"\xc0\xaf", b"x" * 300, b"caf\xc3\xa9", b"ok-1"])


def test(h):
    rng = random.Random(SEED)
    stores = Stores(h)
    ids = seed(stores)
    key = dev_keys(h)
    user = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "password.memory_kib": 1024, "password.iterations": 1})
    product = start_service(h, "product-service", stores)
    order = start_service(h, "order-service", stores)
    notification = start_service(h, "notification-service", stores)
    admin = {"user": ids["admin"], "roles": ["admin"]}
    alice = {"user": ids["alice"], "roles": []}
    courier = {"user": ids["courier"], "roles": ["courier"]}
    good_order = call(order.port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 1},
                      **alice).json()["id_order"]

    credentials = {"email": b'"fuzz@shop.test"', "password": b'"long enough pass"'}
    product_body = {"name": b'"kopi fuzz"', "description": b'"d"', "price": b"1000",
                    "stock": b"5"}
    # (service, method, path maker, good fields or None for no body, identity, extra headers)
    endpoints = [
        (user, "POST", lambda: "/api/users", credentials | {"name": b'"n"'}, {}, False),
        (user, "POST", lambda: "/api/auth/login", credentials, {}, False),
        (user, "GET", lambda: "/api/users/me", None, alice, False),
        (user, "GET", lambda: f"/.well-known/jwks.json?x={hostile_query_value(rng)}", None, {},
         False),
        (product, "GET", lambda: (f"/api/products?q={hostile_query_value(rng)}"
                                  f"&limit={hostile_query_value(rng)}"
                                  f"&offset={hostile_query_value(rng)}"), None, {}, False),
        (product, "GET", lambda: f"/api/products/{hostile_segment(rng)}", None, {}, False),
        (product, "POST", lambda: "/api/products", product_body, admin, False),
        (product, "PUT", lambda: f"/api/products/{rng.choice([str(ids['teh']), hostile_segment(rng)])}",
         product_body, admin, False),
        (product, "DELETE", lambda: f"/api/products/{hostile_segment(rng)}", None, admin, False),
        (order, "POST", lambda: "/api/orders",
         {"id_produk": str(ids["kopi"]).encode(), "jumlah": b"1"}, alice, True),
        (order, "GET", lambda: (f"/api/orders?limit={hostile_query_value(rng)}"
                                f"&before={hostile_query_value(rng)}"), None, alice, False),
        (order, "GET", lambda: f"/api/orders/{hostile_segment(rng)}", None, alice, False),
        (order, "POST", lambda: f"/api/orders/{rng.choice([str(good_order), hostile_segment(rng)])}/status",
         {"status": b'"paid"'}, courier, False),
        (notification, "GET",
         lambda: f"/ws/notifications?last_event_id={hostile_query_value(rng)}", None, alice,
         False),
    ]

    deadline = time.monotonic() + BUDGET_S
    sent = 0
    with h.step(f"hostile requests (seed {SEED}, {ROUNDS} per endpoint): never a 5xx"):
        for svc, method, path_of, fields, who, keyed in endpoints:
            for _ in range(ROUNDS):
                if time.monotonic() > deadline:
                    break
                path = path_of()
                body = hostile_body(rng, fields) if fields is not None else None
                headers = {"Content-Type": "application/json"} if body is not None else {}
                if keyed:
                    headers["Idempotency-Key"] = hostile_key(rng)
                r = call(svc.port, method, path, body, headers=headers, **who)
                sent += 1
                h.expect(r.status < 500,
                         f"{svc.binary} {method} {path[:80]} {(body or b'')[:120]!r} "
                         f"key={headers.get('Idempotency-Key', b'')[:20]!r}: "
                         f"{r.status} {r.body[:200]!r}")
                if r.status == 400:
                    h.expect(b'"error"' in r.body, f"a 400 says why: {r.body[:200]!r}")
        h.expect(sent >= len(endpoints) * min(ROUNDS, 5), f"{sent} requests sent in time")

    with h.step("bad bytes the services used to pass to PostgreSQL: 400 with the reason"):
        for svc, path, body, headers, who in [
            (user, "/api/users", b'{"email":"n@shop.test","password":"long enough","name":"a\\u0000b"}', {}, {}),
            (user, "/api/auth/login", b'{"email":"a\\u0000@shop.test","password":"long enough"}', {}, {}),
            (user, "/api/users", b'{"email":"n@shop.test","password":"long enough","name":"\xff"}', {}, {}),
            (order, "/api/orders", b'{"id_produk":%d,"jumlah":1}' % ids["kopi"],
             {"Idempotency-Key": b"k\xff\xfe"}, alice),
        ]:
            headers = dict(headers, **{"Content-Type": "application/json"})
            r = call(svc.port, "POST", path, body, headers=headers, **who)
            h.expect_eq(r.status, 400, f"{svc.binary} {path} {body!r}: {r.body!r}")
            h.expect(b"UTF-8" in r.body or b"NUL" in r.body, f"the reason: {r.body!r}")

    with h.step("every service still answers, good requests still work"):
        for svc in (user, product, order, notification):
            h.expect_eq(call(svc.port, "GET", "/health").status, 200, f"{svc.binary} /health")
        r = call(user.port, "POST", "/api/users",
                 {"email": "after@shop.test", "password": "long enough pass"})
        h.expect_eq(r.status, 201, f"register after {r.body!r}")
        r = call(order.port, "POST", "/api/orders", {"id_produk": ids["kopi"], "jumlah": 2},
                 headers={"Idempotency-Key": "kunci-é".encode()}, **alice)
        h.expect_eq(r.status, 201, f"order with a UTF-8 key after {r.body!r}")
        r = call(product.port, "GET", "/api/products?q=kopi")
        h.expect_eq(r.status, 200, "search after")


run(test)
