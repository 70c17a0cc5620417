"""jwt: what JWT verification costs the balancer. One config, /auth (auth: jwt, claims copied
into headers) against /open (auth: none), wrk sending the same Authorization header to both;
auth-uncached rotates among more valid tokens than the per-worker cache holds. The peer rows:
HAProxy with the same two routes (jwt_verify), each against its own /open."""
import json
import os
import shutil
import subprocess

from .. import PERF_DIR, REPO_DIR, WRK_DIR, log, md_cell
from ..load import WRK_LUA, LoadSpec
from ..probe import RouteChecks
from ..scenario import FeatureScenario, Fixture, PeerConfig, Run
from . import register

JWT_MINT = os.path.join(PERF_DIR, "jwt-mint.mjs")
WRK_ROTATE_LUA = os.path.join(WRK_DIR, "rotate-tokens.lua")
# auth-uncached rotates among this many distinct tokens: 4x the balancer's
# per-worker token cache (jwt::TokenCache of 4096 in balancer/worker/worker.h), so
# every request misses it
JWT_UNCACHED_TOKENS = 16384


class JwtKeys(Fixture):
    """A fresh ES256 key and tokens minted with npm jose (independent of the balancer's code)."""

    def __init__(self, bench):
        super().__init__(bench)
        self.keys = None    # {"jwks", "pem", "token", "tokens_file", "n"} or {"error"}

    def setup(self, scenarios):
        err = self._mint(max(self.bench.args.jwt_tokens, 0))
        if err:
            log(f"JWT set-up failed, jwt rows will say so: {err}")

    def _mint(self, n_tokens):
        d = os.path.join(self.bench.raw, "jwt")
        os.makedirs(d, exist_ok=True)
        node = shutil.which("node")
        if not node:
            self.keys = {"error": "node not found in PATH (needed to mint the tokens with npm jose)"}
            return self.keys["error"]
        script = os.path.relpath(JWT_MINT, REPO_DIR)
        try:
            out = subprocess.run([node, JWT_MINT, d, str(n_tokens)], capture_output=True, text=True,
                                 timeout=120, cwd=os.path.join(REPO_DIR, "tests", "integration"))
        except (OSError, subprocess.TimeoutExpired) as e:
            self.keys = {"error": f"{script}: {e}"}
            return self.keys["error"]
        token_file = os.path.join(d, "token.txt")
        if out.returncode != 0 or not os.path.exists(token_file):
            self.keys = {"error": f"{script} exit {out.returncode}: {(out.stdout + out.stderr).strip()[-400:]}"}
            return self.keys["error"]
        with open(token_file) as f:
            token = f.read().strip()
        self.keys = {"jwks": os.path.join(d, "jwks.json"), "pem": os.path.join(d, "public.pem"), "token": token,
                     "tokens_file": os.path.join(d, "tokens.txt"), "n": n_tokens}
        log(f"jwt: {out.stdout.strip()} (token {len(token)} bytes)")
        return None

    def ok(self):
        return self.keys is not None and not self.keys.get("error")

    def bearer(self):
        return {"Authorization": "Bearer " + self.keys["token"]}

    def header_lines(self, args, points):
        if not any(pt[3] == "jwt" for pt in points):
            return []
        j = self.keys or {}
        return [f"- jwt: a fresh ES256 key (JWKS with one key) and tokens minted by npm jose {jose_version()} "
                f"(`perf/jwt-mint.mjs`); the token wrk sends is {len(j.get('token', ''))} bytes"
                + (f"; `auth-uncached` rotates among {j['n']:,} distinct tokens" if j.get("n") else "")
                + (f"; **set-up failed: {md_cell(j['error'])}**" if j.get("error") else "")]

    def json(self):
        return {"jwt_token_bytes": len((self.keys or {}).get("token", "")),
                "jwt_error": (self.keys or {}).get("error")}


def jose_version():
    try:
        with open(os.path.join(REPO_DIR, "tests", "integration", "node_modules", "jose", "package.json")) as f:
            return json.load(f).get("version", "?")
    except (OSError, ValueError):
        return "(not found)"


@register
class Jwt(FeatureScenario):
    name = "jwt"
    description = "balancer only: a route verifying a JWT against the same route without auth"
    order = 60
    points = ("1:64:/", "2:64:/")
    quick_points = ("1:64:/",)
    fixtures = (JwtKeys,)
    arguments = ((("--jwt-tokens",), dict(
        type=int, default=JWT_UNCACHED_TOKENS, metavar="N",
        help="distinct tokens the jwt scenario's auth-uncached run rotates among (default "
             f"{JWT_UNCACHED_TOKENS}, 4x the per-worker token cache); 0 skips that run")),)
    template = "balancer-jwt.yaml.tmpl"
    variants = (Run("open", "balancer", "/open", "open"),
                Run("auth", "balancer", "/auth", "open"),
                Run("auth-uncached", "balancer", "/auth", "open", " uncached"),
                # HAProxy with the same two routes (configs/haproxy-jwt.cfg.tmpl), against its own /open
                Run("haproxy-open", "haproxy", "/open", "haproxy-open"),
                Run("haproxy-auth", "haproxy", "/auth", "haproxy-open"))
    title = "JWT verification: `/auth` (auth: jwt) against `/open` (auth: none)"
    text = ("One balancer config, two routes to the same origin path (`strip_prefix`); `/auth` needs a valid "
            "JWT and copies `sub` and `roles` into `X-User-Id` and `X-User-Roles`. wrk sends the same "
            "`Authorization: Bearer` header (one ES256 token) to both routes, so parsing costs the same and "
            "the difference is the token check: one signature check per worker, then a hit in the worker's "
            "token cache, plus the claims checks and the two headers. `×open` is the ratio to `/open` at the same "
            "point, run just before it by the same script: **req/s ×open is the share of `/open`'s throughput "
            "that `/auth` keeps (the issue's target is at least 0.90)**; for p99 and CPU per request, lower is "
            "better, and `+µs/req` is the extra balancer CPU per request. `auth-uncached` (a worst case): wrk "
            "rotates among many distinct valid tokens, more than the per-worker cache holds, so every request "
            "is a signature check; there wrk runs a Lua function per request, so its own CPU is higher than on "
            "the other rows. When `wrk CPU` is near 100% the client was the limit and req/s understates the "
            "difference: compare the CPU per request. The HAProxy rows are the peer: the same two routes "
            "with HAProxy 2.6's `jwt_verify` (ES256, no token cache, so a signature check per request), the "
            "same iss, aud and exp checks and the same two headers (configs/haproxy-jwt.cfg.tmpl), each "
            "ratio against HAProxy's own `/open`; CPU there is HAProxy's.")

    def runs(self, args):
        return [r for r in super().runs(args) if r.name != "auth-uncached" or args.jwt_tokens > 0]

    def unavailable(self, bench, run):
        keys = bench.fixture(JwtKeys)
        if keys.ok():
            return None
        return f"no JWT keys and tokens: {(keys.keys or {}).get('error', 'not set up')}"

    def config(self, bench, run, base):
        keys = bench.fixture(JwtKeys).keys
        if run.peer == "haproxy":
            return PeerConfig("haproxy-jwt.cfg.tmpl", {"PUBLIC_KEY": keys["pem"]})
        return PeerConfig(self.template, {"JWKS_FILE": keys["jwks"]})

    def ready(self, bench, run):
        return run.route + "/", bench.fixture(JwtKeys).bearer()

    def checks(self, bench, run, port):
        token = bench.fixture(JwtKeys).keys["token"]
        bearer = {"Authorization": "Bearer " + token}
        c = RouteChecks(port)
        c.expect("/open/", 200, what=" without a token")
        c.expect("/open/", 200, bearer, " with the token")
        c.expect("/auth/", 401, what=" without a token")
        c.expect("/auth/", 401, {"Authorization": "Bearer " + token[:-4] + "AAAA"}, " with a tampered signature")
        c.expect("/auth/", 200, bearer, " with the token")
        return c.surprises

    def load(self, bench, run, path, warmup):
        keys = bench.fixture(JwtKeys).keys
        if run.name == "auth-uncached" and not warmup:
            # a different valid token on every request; the warm-up (pools) uses the one token
            return LoadSpec(path=run.route + path, script=WRK_ROTATE_LUA,
                            env=dict(os.environ, PERF_TOKENS=keys["tokens_file"],
                                     PERF_STATS_LUA=WRK_LUA))
        # the same header on /open and /auth: same parsing, the difference is the check
        return LoadSpec(path=run.route + path, headers=(f"Authorization: Bearer {keys['token']}",))

