#!/usr/bin/env python3
"""JWT checks at the edge, against tokens minted by npm jose: who gets through, what the
backend is told, and that a client can never forge the identity headers."""
import json
import os
import signal
import subprocess
import time

from harness import HERE, NODE, run


def mint(h, subdir):
    out = h.dir / subdir
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out)], check=True, cwd=str(HERE),
                   capture_output=True, timeout=30)
    return out, json.loads((out / "tokens.json").read_text())


def config(port, backend_port, jwks):
    return f"""\
workers: 2
shutdown_timeout: 2s
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
jwt:
  jwks_file: {jwks}
  issuer: https://users.local
  audience: shop
  leeway: 30s
  claims_to_headers: {{ sub: X-User-Id, roles: X-User-Roles }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
routes:
  - match: {{ path_prefix: /api/orders }}
    upstream: app
    auth: jwt
  - match: {{ path_prefix: /api/orders/status, methods: [POST] }}
    upstream: app
    auth: jwt
    require_roles: [courier, admin]
  - match: {{ path_prefix: /api/products }}
    upstream: app
    auth: jwt_optional
  - match: {{ path_prefix: /ws }}
    upstream: app
    auth: jwt
"""


def seen_headers(resp):
    body = json.loads(resp.body)
    return body["path"], [(k.lower(), v) for k, v in body["headers"]]


def values(headers, name):
    return [v for k, v in headers if k == name]


def test(h):
    keys, tokens = mint(h, "keys")
    jwks = h.dir / "jwks.json"
    jwks.write_text((keys / "jwks.json").read_text())
    backend = h.backend("a")
    lb = h.balancer(config(0, backend.port, jwks))
    bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731

    with h.step("no token on a jwt route: 401 with the Bearer challenge"):
        r = lb.get("/api/orders")
        h.expect_error_json(r, 401, "no token")
        h.expect_eq(r.header("WWW-Authenticate"), 'Bearer error="invalid_token"', "challenge")

    with h.step("a valid token passes; the backend learns who it is, never from the client"):
        headers = {**bearer(tokens["customer"]), "X-User-Id": "admin-1", "X-User-Roles": "admin"}
        r = lb.get("/api/orders", headers=headers)
        h.expect_eq(r.status, 200, "status")
        _, seen = seen_headers(r)
        h.expect_eq(values(seen, "x-user-id"), ["user-7"], "X-User-Id at the backend")
        h.expect_eq(values(seen, "x-user-roles"), ["customer"], "X-User-Roles at the backend")
        r = lb.get("/api/orders", headers=bearer(tokens["customer"]))  # now from the cache
        h.expect_eq(r.status, 200, "the same token again")

    for name in ("expired", "wrong_audience", "alg_none", "tampered"):
        with h.step(f"{name} token: 401"):
            r = lb.get("/api/orders", headers=bearer(tokens[name]))
            h.expect_error_json(r, 401, name)
    with h.step("malformed tokens and other schemes: 401"):
        for value in ("Bearer a.b", "Bearer " + "x" * 20000, "Basic dXNlcjpwYXNz"):
            r = lb.get("/api/orders", headers={"Authorization": value})
            h.expect_error_json(r, 401, value[:20])

    with h.step("require_roles: a customer gets 403, a courier gets through"):
        r = lb.request("POST", "/api/orders/status", body=b"{}", headers=bearer(tokens["customer"]))
        h.expect_error_json(r, 403, "customer")
        r = lb.request("POST", "/api/orders/status", body=b"{}", headers=bearer(tokens["courier"]))
        h.expect_eq(r.status, 200, "courier")

    with h.step("jwt_optional: anonymous passes without identity; a token adds it"):
        r = lb.get("/api/products", headers={"X-User-Id": "admin-1"})
        h.expect_eq(r.status, 200, "anonymous status")
        _, seen = seen_headers(r)
        h.expect_eq(values(seen, "x-user-id"), [], "no X-User-Id for an anonymous request")
        r = lb.get("/api/products", headers=bearer(tokens["customer"]))
        h.expect_eq(values(seen_headers(r)[1], "x-user-id"), ["user-7"], "X-User-Id with a token")
        r = lb.get("/api/products", headers=bearer(tokens["expired"]))
        h.expect_error_json(r, 401, "a bad token on an optional route")

    with h.step("a WebSocket upgrade may carry its token as ?access_token=, not forwarded"):
        upgrade = {"Connection": "Upgrade", "Upgrade": "websocket"}
        r = lb.get(f"/ws/notifications?access_token={tokens['customer']}&x=1", headers=upgrade)
        path, seen = seen_headers(r)
        h.expect_eq(path, "/ws/notifications?x=1", "path at the backend")
        h.expect_eq(values(seen, "x-user-id"), ["user-7"], "X-User-Id")
        r = lb.get(f"/api/orders?access_token={tokens['customer']}")
        h.expect_eq(r.status, 401, "plain requests must use the header")

    with h.step("SIGHUP loads new keys; tokens of the old ones stop working"):
        new_keys, new_tokens = mint(h, "keys2")
        jwks.write_text((new_keys / "jwks.json").read_text())
        os.kill(lb.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if lb.get("/api/orders", headers=bearer(new_tokens["customer"])).status == 200:
                break
            time.sleep(0.1)
        h.expect_eq(lb.get("/api/orders", headers=bearer(new_tokens["customer"])).status, 200,
                    "a token of the new keys")
        h.expect_eq(lb.get("/api/orders", headers=bearer(tokens["customer"])).status, 401,
                    "the cached token of the old keys")


if __name__ == "__main__":
    run(test)
