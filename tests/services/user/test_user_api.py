"""user-service against a real PostgreSQL: register, login, /users/me, JWKS, errors, the
development seed, 503 while the database is down and recovery after."""
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import Stores, call, dev_keys, run, start_service, wait_until  # noqa: E402


def claims(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def header(token):
    head = token.split(".")[0]
    head += "=" * (-len(head) % 4)
    return json.loads(base64.urlsafe_b64decode(head))


def test(h):
    stores = Stores(h)  # its own Redis: the login throttle keeps its counts there
    key = dev_keys(h)
    jwks_path = h.dir / "jwks.json"
    svc = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "jwt.jwks_file": jwks_path, "jwt.ttl": "15m",
        # cheap argon2 for the test; production uses 19 MiB, t=2
        "password.memory_kib": 1024, "password.iterations": 1,
        "seed.admin_email": "admin@shop.test", "seed.admin_password": "admin-pass",
        "seed.courier_email": "courier@shop.test", "seed.courier_password": "courier-pass"})
    port = svc.port

    with h.step("register a user: 201 with the account, no password in the answer"):
        r = call(port, "POST", "/api/users",
                 {"email": "Ana@Example.com", "password": "correct horse", "name": "Ana"})
        h.expect_eq(r.status, 201, f"status {r.body!r}")
        user = r.json()
        h.expect_eq(user["email"], "Ana@Example.com", "email kept as typed")
        h.expect_eq(user["name"], "Ana", "name")
        h.expect_eq(user["roles"], ["customer"], "roles")
        h.expect("password" not in r.body.decode() and "argon2" not in r.body.decode(),
                 "no password or hash in the answer")
        row = stores.psql(f"SELECT password_hash FROM users WHERE id = {user['id']}")
        h.expect(row and row[0][0].startswith("$argon2id$v=19$"), f"stored as argon2id: {row}")

    with h.step("a taken email, whatever its case: 409"):
        r = call(port, "POST", "/api/users", {"email": "ana@example.COM", "password": "another pass"})
        h.expect_eq(r.status, 409, f"status {r.body!r}")

    with h.step("bad input: 400 with a reason"):
        for body, what in [
            ("{not json", "bad JSON"),
            ([1, 2], "not an object"),
            ({"password": "long enough"}, "missing email"),
            ({"email": "b@example.com"}, "missing password"),
            ({"email": "no-at-sign", "password": "long enough"}, "bad email"),
            ({"email": "a@b", "password": "long enough"}, "domain without a dot"),
            ({"email": "b@example.com", "password": "short"}, "short password"),
            ({"email": 5, "password": "long enough"}, "email not a string"),
            ({"email": "c@example.com", "password": "long enough", "name": 7}, "name not a string"),
        ]:
            r = call(port, "POST", "/api/users", body)
            h.expect_eq(r.status, 400, f"{what}: status {r.body!r}")
            h.expect(isinstance(json.loads(r.body).get("error"), str), f"{what}: JSON error")

    with h.step("login: an ES256 token with kid, sub, roles, iss, aud, exp"):
        r = call(port, "POST", "/api/auth/login", {"email": "ana@example.com", "password": "correct horse"})
        h.expect_eq(r.status, 200, f"status {r.body!r}")
        answer = r.json()
        h.expect_eq(answer["token_type"], "Bearer", "token_type")
        h.expect_eq(answer["expires_in"], 900, "expires_in")
        token = answer["access_token"]
        head, c = header(token), claims(token)
        h.expect_eq(head["alg"], "ES256", "alg")
        h.expect(head.get("kid"), "kid present")
        h.expect_eq(c["sub"], str(user["id"]), "sub")
        h.expect_eq(c["roles"], ["customer"], "roles")
        h.expect_eq(c["iss"], "https://users.local", "iss")
        h.expect_eq(c["aud"], "shop", "aud")
        h.expect_eq(c["exp"] - c["iat"], 900, "exp - iat")

    with h.step("the JWKS: served and written to the file, with the token's kid"):
        r = call(port, "GET", "/.well-known/jwks.json")
        h.expect_eq(r.status, 200, "status")
        keys = r.json()["keys"]
        h.expect_eq([k["kid"] for k in keys], [head["kid"]], "kids")
        h.expect_eq(keys[0]["kty"], "EC", "kty")
        h.expect("d" not in keys[0], "no private part")
        h.expect_eq(json.loads(jwks_path.read_text()), r.json(), "file equals the endpoint")

    with h.step("wrong password and unknown email: the same 401"):
        r1 = call(port, "POST", "/api/auth/login", {"email": "ana@example.com", "password": "wrong horse"})
        r2 = call(port, "POST", "/api/auth/login", {"email": "nobody@example.com", "password": "wrong horse"})
        h.expect_eq(r1.status, 401, "wrong password")
        h.expect_eq(r2.status, 401, "unknown email")
        h.expect_eq(r1.body, r2.body, "same answer")
        r = call(port, "POST", "/api/auth/login", {"email": "ana@example.com"})
        h.expect_eq(r.status, 400, "missing password")

    with h.step("/api/users/me from the balancer's identity headers"):
        r = call(port, "GET", "/api/users/me", user=user["id"], roles=["customer"])
        h.expect_eq(r.status, 200, f"status {r.body!r}")
        h.expect_eq(r.json()["email"], "Ana@Example.com", "email")
        r = call(port, "GET", "/api/users/me")
        h.expect_eq(r.status, 401, "no identity")
        r = call(port, "GET", "/api/users/me", user=999999)
        h.expect_eq(r.status, 404, "unknown user")

    with h.step("the development seed: admin and courier can log in with their roles"):
        for email, password, role in [("admin@shop.test", "admin-pass", "admin"),
                                      ("courier@shop.test", "courier-pass", "courier")]:
            r = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
                call(port, "POST", "/api/auth/login", {"email": email, "password": password})), 10)
            h.expect(r is not None and r.status == 200, f"{email} logs in")
            if r is not None and r.status == 200:
                h.expect_eq(claims(r.json()["access_token"])["roles"], [role], f"{email} roles")

    with h.step("PostgreSQL down: 503 and /ready says so; back: it recovers by itself"):
        stores.pg_stop()
        r = call(port, "POST", "/api/auth/login", {"email": "ana@example.com", "password": "correct horse"})
        h.expect_eq(r.status, 503, f"login while down {r.body!r}")
        r = call(port, "GET", "/ready")
        h.expect_eq(r.status, 503, "ready while down")
        h.expect_eq(call(port, "GET", "/health").status, 200, "alive while down")
        stores.pg_start()
        r = call(port, "POST", "/api/auth/login", {"email": "ana@example.com", "password": "correct horse"})
        h.expect_eq(r.status, 200, f"login after recovery {r.body!r}")
        h.expect_eq(call(port, "GET", "/ready").status, 200, "ready again")

    with h.step("metrics: requests by route, logins, the pool"):
        text = call(port, "GET", "/metrics").body.decode()
        h.expect('service_requests_total{service="user-service",route="/api/auth/login",method="POST",code="200"}' in text,
                 "login requests counted")
        h.expect('user_logins_total{result="refused"}' in text, "refused logins counted")
        h.expect("service_db_pool_connections" in text, "pool gauge")


if __name__ == "__main__":
    run(test)
