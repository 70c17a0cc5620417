#!/usr/bin/env python3
"""`rate_limit: { key: user }` (README "Configuration reference"): the bucket is the JWT's
`sub`. Two users with their own tokens have their own buckets; two different tokens of one
user share one; anonymous requests on a jwt_optional route are limited by their address,
apart from the users (who come from the same address). Tokens are minted by npm jose
(jwt_mint.mjs), as in test_jwt.py. Requests go on new connections, so both workers answer."""
import json
import subprocess

from harness import HERE, NODE, free_port, run, simple_config

BURST = 3


def mint(h):
    out = h.dir / "keys"
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out)], check=True, cwd=str(HERE),
                   capture_output=True, timeout=30)
    return out / "jwks.json", json.loads((out / "tokens.json").read_text())


def config(port, backend_port, jwks):
    jwt = f"jwt: {{ jwks_file: {jwks}, issuer: https://users.local, audience: shop }}"
    return simple_config(port, [backend_port], workers=2, extra_top=jwt,
                         route_match="{ path_prefix: /open }") + f"""\
  - match: {{ path_prefix: /limited }}
    upstream: app
    auth: jwt_optional
    rate_limit: {{ rate: 1/m, burst: {BURST}, key: user, scope: local }}
"""


def test(h):
    jwks, tokens = mint(h)
    backend = h.backend("a")
    port = free_port()
    lb = h.balancer(config(port, backend.port, jwks), port)

    def statuses(token, n):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return [lb.get("/limited", headers=headers).status for _ in range(n)]

    with h.step(f"user-7: a burst of {BURST}, then 429"):
        h.expect_eq(statuses(tokens["customer"], BURST + 2), [200] * BURST + [429] * 2,
                    "statuses of user-7")

    with h.step("courier-3, from the same address: its own full bucket"):
        h.expect_eq(statuses(tokens["courier"], BURST + 2), [200] * BURST + [429] * 2,
                    "statuses of courier-3")

    with h.step("user-7 with another token (other key, same sub): the same, empty bucket"):
        h.expect_eq(statuses(tokens["customer_rs"], 2), [429] * 2, "statuses of user-7's "
                    "second token")
        r = lb.get("/limited", headers={"Authorization": f"Bearer {tokens['customer']}"})
        h.expect_error_json(r, 429, "the refusal")
        h.expect_eq(r.header("RateLimit-Limit"), str(BURST), "RateLimit-Limit")
        h.expect(int(r.header("Retry-After", "0")) >= 1, f"Retry-After {r.header('Retry-After')}")

    with h.step("anonymous requests: the address's own bucket, apart from the users'"):
        h.expect_eq(statuses(None, BURST + 2), [200] * BURST + [429] * 2, "anonymous statuses")

    with h.step("a bad token is still 401, not a bucket of its own"):
        r = lb.get("/limited", headers={"Authorization": f"Bearer {tokens['expired']}"})
        h.expect_eq(r.status, 401, "status with an expired token")

    with h.step("the backend saw only the allowed requests"):
        h.expect_eq(backend.stats()["by_path"].get("GET /limited", 0), 3 * BURST,
                    "requests that reached the backend")


if __name__ == "__main__":
    run(test)
