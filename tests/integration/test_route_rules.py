#!/usr/bin/env python3
"""Per-route rules (issue 14): allow/deny networks (403) and CORS (preflights answered at the
edge, allow headers on actual responses for listed origins only, nothing for the others)."""
from harness import run, simple_config

ROUTES = """\
  - match: { path_prefix: /intranet }
    upstream: app
    allow: [10.0.0.0/8, "fd00::/8"]
  - match: { path_prefix: /blocked }
    upstream: app
    deny: [127.0.0.0/8]
  - match: { path_prefix: /api }
    upstream: app
    cors: { origins: [https://shop.test], methods: [GET, POST, PUT], headers: [Authorization],
            expose: [X-Request-Id], max_age: 10m }
"""


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], route_match="{ path_prefix: /plain }")
                    + ROUTES)

    with h.step("allow/deny: a client outside allow, or inside deny, gets 403 with the reason"):
        r = lb.get("/intranet/x")
        h.expect_error_json(r, 403, "127.0.0.1 is not in the allowed networks")
        h.expect("not allowed" in r.json()["error"], f"reason: {r.json()}")
        r = lb.get("/blocked/x")
        h.expect_error_json(r, 403, "127.0.0.1 is in a denied network")
        h.expect("denied" in r.json()["error"], f"reason: {r.json()}")
        h.expect_eq(lb.get("/plain/x").status, 200, "a route without rules")
        h.expect_eq(backend.stats()["by_path"].get("GET /intranet/x", 0), 0,
                    "refused requests never reached the backend")

    with h.step("a listed origin's preflight is answered here: 204, never forwarded"):
        before = backend.stats()["requests"]
        r = lb.request("OPTIONS", "/api/orders", headers={
            "Origin": "https://shop.test", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        h.expect_eq(r.status, 204, "preflight status")
        h.expect_eq(r.header("Access-Control-Allow-Origin"), "https://shop.test", "allow origin")
        h.expect_eq(r.header("Access-Control-Allow-Methods"), "GET, POST, PUT", "methods")
        h.expect_eq(r.header("Access-Control-Allow-Headers"), "Authorization, Content-Type",
                    "headers")
        h.expect_eq(r.header("Access-Control-Max-Age"), "600", "max age")
        h.expect_eq(r.header("Content-Length"), None, "a 204 has no Content-Length")
        h.expect(r.body == b"", "no body")
        h.expect(r.header("X-Request-Id"), "the preflight has a request id")
        h.expect_eq(backend.stats()["requests"], before, "the backend saw no preflight")

    with h.step("preflights for an unlisted origin, method or header: 403, no allow header"):
        for headers in ({"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"},
                        {"Origin": "https://shop.test", "Access-Control-Request-Method": "DELETE"},
                        {"Origin": "https://shop.test", "Access-Control-Request-Method": "GET",
                         "Access-Control-Request-Headers": "X-Secret"}):
            r = lb.request("OPTIONS", "/api/orders", headers=headers)
            h.expect_eq(r.status, 403, f"preflight {headers}")
            h.expect_eq(r.header("Access-Control-Allow-Origin"), None, f"allow origin {headers}")

    with h.step("actual requests: allow headers for the listed origin only, Vary: Origin always"):
        r = lb.get("/api/products", headers={"Origin": "https://shop.test"})
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.header("Access-Control-Allow-Origin"), "https://shop.test", "allow origin")
        h.expect_eq(r.header("Access-Control-Expose-Headers"), "X-Request-Id", "expose")
        h.expect("Origin" in (r.header("Vary") or ""), f"Vary: {r.header('Vary')}")
        r = lb.get("/api/products", headers={"Origin": "https://evil.test"})
        h.expect_eq(r.status, 200, "an unlisted origin is still served (the browser decides)")
        h.expect_eq(r.header("Access-Control-Allow-Origin"), None, "no allow origin")
        r = lb.get("/api/none")
        h.expect("Origin" in (r.header("Vary") or ""), "Vary: Origin without an Origin too")

    with h.step("an upstream's own Access-Control-* fields give way to the route's answer"):
        r = lb.get("/api/with-cors", headers={"Origin": "https://evil.test"})
        h.expect_eq(r.headers.get_all("Access-Control-Allow-Origin", []), [], "the service's '*' is gone")
        h.expect_eq(r.header("Access-Control-Allow-Credentials"), None, "and its credentials")
        h.expect_eq(r.header("X-Kept"), "yes", "other fields of the service pass")
        r = lb.get("/api/with-cors", headers={"Origin": "https://shop.test"})
        h.expect_eq(r.headers.get_all("Access-Control-Allow-Origin", []), ["https://shop.test"],
                    "one allow origin: the route's")


if __name__ == "__main__":
    run(test)
