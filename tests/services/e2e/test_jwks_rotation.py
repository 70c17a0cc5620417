"""A signing key rotation with no restart anywhere: the balancer fetches user-service's
/.well-known/jwks.json (jwt.jwks_url); user-service is told to rotate (new key files, SIGHUP);
a token of the new key is accepted within one refetch, and tokens of the old key still are."""
import base64
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import (Stores, call, free_port, run, shop_balancer_config,  # noqa: E402
                     start_service, wait_until)


def new_key(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(path)], check=True,
                   capture_output=True, timeout=30)


def kid(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


def test(h):
    stores = Stores(h, redis=False)
    keys = h.dir / "keys"
    keys.mkdir()
    current, previous, spare = keys / "current.pem", keys / "previous.pem", keys / "next.pem"
    for path in (current, previous, spare):
        new_key(path)
    users = start_service(h, "user-service", stores, **{
        "jwt.private_keys": f"{current},{previous}",
        "password.memory_kib": 1024, "password.iterations": 1})
    wait_until(lambda: call(users.port, "GET", "/ready").status == 200, 15)

    lb_port = free_port()
    text = shop_balancer_config(lb_port, "JWKS", {"users": users.port, "products": free_port(),
                                                  "orders": free_port(),
                                                  "notifications": free_port()})
    url = f"http://127.0.0.1:{users.port}/.well-known/jwks.json"
    text = text.replace("jwks_file: JWKS",
                        f"jwks_url: {url}\n  jwks_refresh: {{ min: 1s, max: 1h }}")
    lb = h.balancer(text, lb_port)
    lb.wait_port(lb_port)

    def api(method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return call(lb_port, method, path, body, headers=headers)

    def login():
        r = api("POST", "/api/auth/login", {"email": "ana@example.com", "password": "rahasia-123"})
        assert r.status == 200, f"login: {r.status} {r.body!r}"
        return r.json()["access_token"]

    with h.step("a token of user-service's key passes the balancer (keys from the URL)"):
        r = api("POST", "/api/users", {"email": "ana@example.com", "password": "rahasia-123"})
        h.expect_eq(r.status, 201, f"register {r.body!r}")
        old = login()
        h.expect(wait_until(lambda: api("GET", "/api/users/me", token=old).status == 200, 10),
                 "/api/users/me with the first key's token")

    with h.step("rotate: new key files and SIGHUP to user-service, nothing restarted"):
        shutil.copy(current, previous)
        shutil.copy(spare, current)
        users.proc.send_signal(signal.SIGHUP)
        fresh = wait_until(lambda: (lambda t: t if kid(t) != kid(old) else None)(login()), 10)
        h.expect(fresh is not None, "user-service signs with the new key after SIGHUP")

    with h.step("the new key's token is accepted within one refetch; the old one still is"):
        t0 = time.monotonic()
        ok = wait_until(lambda: api("GET", "/api/users/me", token=fresh).status == 200, 10)
        elapsed = time.monotonic() - t0
        h.expect(ok, "the new kid is fetched and accepted")
        h.expect(elapsed < 3, f"within one refetch (unknown-kid spacing 1s): {elapsed:.1f}s")
        h.expect_eq(api("GET", "/api/users/me", token=old).status, 200,
                    "a token of the previous key (still published)")


if __name__ == "__main__":
    run(test)
