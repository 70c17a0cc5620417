"""What the service tests share: a throwaway PostgreSQL (scripts/db in a temporary folder on a
free port, migrations applied) and redis-server (append-only file on, so a restart keeps the
stream), the service binaries started with --set flags, and HTTP calls carrying the identity
headers the balancer would forward. Built on tests/integration/harness/: every process is
stopped by its pid when the test ends.

    from fixture import Stores, start_service, call, run

    def test(h):
        stores = Stores(h)
        product = start_service(h, "product-service", stores)
        with h.step("list"):
            r = call(product.port, "GET", "/api/products")
            h.expect_eq(r.status, 200, "status")

    run(test)
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import harness  # noqa: E402
from harness import (Process, free_port, http_request, port_accepts, run,  # noqa: E402,F401
                     RawConnection)

BIN_DIR = Path(os.environ.get("BIN_DIR") or REPO / "build" / "bin")
DB = REPO / "scripts" / "db"


class Stores:
    """PostgreSQL and Redis of the test's own. `redis=False` skips Redis."""

    def __init__(self, h, redis=True, seed=False, pg=True):
        self.h = h
        folder = h.dir / "stores"
        folder.mkdir(exist_ok=True)
        os.chmod(h.dir, 0o755)   # as root, PostgreSQL runs as another user that must reach it
        os.chmod(folder, 0o755)
        self.pg_port = free_port()
        self.env = dict(os.environ, PGDATA_DIR=str(folder / "pg"), PG_PORT=str(self.pg_port),
                        PG_INITDB_NOSYNC="1")
        self.database_url = None
        if pg:
            self._db("init")
            self._db("start")
            h.cleanups.append(lambda: self._db("stop", check=False))
            self._db("migrate")
            if seed:
                self._db("seed")
            self.database_url = f"postgresql://shop@127.0.0.1:{self.pg_port}/shop"
        self.redis = None
        self.redis_port = None
        self.redis_dir = folder / "redis"
        if redis:
            self.redis_dir.mkdir(exist_ok=True)
            self.redis_port = free_port()
            self.redis_start()

    def _db(self, *args, check=True):
        r = subprocess.run([str(DB), *args], env=self.env, capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError(f"scripts/db {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
        return r

    # PostgreSQL

    def psql(self, sql):
        """Rows of one query as lists of strings (unaligned, |-separated)."""
        r = self._db("psql", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql)
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def pg_stop(self):
        self._db("stop")

    def pg_start(self):
        self._db("start")

    # Redis

    def redis_start(self):
        argv = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--dir", str(self.redis_dir), "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--daemonize", "no"]
        self.redis = Process("redis", argv, self.h.dir / f"redis-{time.monotonic_ns()}.log")
        self.h.processes.append(self.redis)
        self.redis.wait_port(self.redis_port)

    def redis_stop(self):
        """SIGTERM: redis-server writes its append-only file and exits."""
        self.redis.terminate()

    def redis_cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port), *map(str, args)],
                           capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
        return r.stdout.strip()

    def settings(self):
        s = {"database.url": self.database_url} if self.database_url else {}
        if self.redis_port:
            s["redis.address"] = f"127.0.0.1:{self.redis_port}"
        return s


class Service(Process):
    def __init__(self, h, binary, port, settings):
        argv = [BIN_DIR / binary, "--listen", f"127.0.0.1:{port}"]
        for key, value in settings.items():
            argv += ["--set", f"{key}={value}"]
        super().__init__(binary, argv, h.dir / f"{binary}-{port}-{time.monotonic_ns()}.log")
        self.port = port
        self.binary = binary
        self.settings = settings


def start_service(h, binary, stores, port=None, **settings):
    """Starts build/bin/BINARY on a free port with the stores' settings plus `settings`
    (dotted keys as keyword arguments use '__' for '.': cache__ttl="2s")."""
    merged = stores.settings() if stores else {}
    merged["log.level"] = "info"
    for key, value in settings.items():
        merged[key.replace("__", ".")] = value
    svc = Service(h, binary, port or free_port(), merged)
    h.processes.append(svc)
    svc.wait_port(svc.port)
    return svc


def restart_service(h, svc):
    """Stops the service (SIGTERM) and starts it again on the same port and settings."""
    svc.terminate()
    again = Service(h, svc.binary, svc.port, svc.settings)
    h.processes.append(again)
    again.wait_port(again.port)
    return again


def call(port, method, path, body=None, user=None, roles=(), headers=None, timeout=15):
    """One request to a service as the balancer would send it: `user` -> X-User-Id, `roles`
    -> X-User-Roles; a dict or list body is sent as JSON."""
    headers = dict(headers or {})
    if user is not None:
        headers["X-User-Id"] = str(user)
        headers["X-User-Roles"] = ",".join(roles)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    return http_request(port, method, path, body=body, headers=headers, timeout=timeout)


def wait_until(condition, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def dev_keys(h):
    """A fresh ES256 signing key made by scripts/dev-keys in the test's folder; its path."""
    keys = h.dir / "keys"
    r = subprocess.run([str(REPO / "scripts" / "dev-keys")], env=dict(os.environ, KEYS_DIR=str(keys)),
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"scripts/dev-keys failed: {r.stdout}{r.stderr}")
    return keys / "jwt-es256.pem"


def shop_balancer_config(port, jwks, ports, workers=1, edge_cache=False, web=None):
    """A balancer in front of the four services, routed as config/stack.yaml (without its rate
    limits and TLS): `ports` maps users, products, orders, notifications to service ports.
    With `edge_cache`, product reads are cached as config/stack.yaml does (product writes go
    through the cache, which invalidates). With `web` (the storefront's folder), the whole
    edge of config/stack.yaml: that cache, JSON compressed, the storefront served at /."""
    edge_cache = edge_cache or web is not None
    cache = "\n    cache: { zone: edge }" if edge_cache else ""
    compress = "\n    compress: { min_size: 256 }" if web else ""
    zones = "cache_zones:\n  edge: { memory: 16MiB, max_object: 1MiB }\n" if edge_cache else ""
    storefront = f"""  - match: {{ path_prefix: /, methods: [GET, HEAD] }}
    static: {{ root: {web}, index: index.html }}{compress}
""" if web else ""
    ups = "\n".join(f"""  {name}:
    balance: least_conn
    backends: [{{ address: 127.0.0.1:{p}, weight: 1 }}]
    health_check: {{ path: /health, interval: 500ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 2 }}
    connect_timeout: 1s
    request_timeout: 10s
    retries: 1""" for name, p in ports.items())
    return f"""workers: {workers}
shutdown_timeout: 5s
listeners:
  - name: public
    address: 127.0.0.1:{port}
jwt:
  jwks_file: {jwks}
  issuer: https://users.local
  audience: shop
  claims_to_headers: {{ sub: X-User-Id, roles: X-User-Roles }}
{zones}upstreams:
{ups}
routes:
  - match: {{ path: /api/users, methods: [POST] }}
    upstream: users
  - match: {{ path: /api/auth/login, methods: [POST] }}
    upstream: users
  - match: {{ path: /api/users/me }}
    upstream: users
    auth: jwt
  - match: {{ path_prefix: /api/products, methods: [GET, HEAD] }}
    upstream: products
    auth: jwt_optional{cache}{compress}
  - match: {{ path_prefix: /api/products, methods: [POST, PUT, DELETE] }}
    upstream: products
    auth: jwt
    require_roles: [admin]{cache}
  - match: {{ path_prefix: /api/orders }}
    upstream: orders
    auth: jwt{compress}
  - match: {{ path: /ws/notifications, methods: [GET] }}
    upstream: notifications
    auth: jwt
{storefront}"""


class WsListener:
    """A WebSocket client (node ws_listen.mjs) in the background, collecting messages.

        ws = WsListener(h, f"ws://127.0.0.1:{port}/ws/notifications", headers={...})
        ws.wait_open()
        events = ws.wait_messages(3)
    """

    def __init__(self, h, url, token=None, headers=None, seconds=60):
        import threading
        argv = [harness.NODE, str(HERE / "ws_listen.mjs"), url, "--seconds", str(seconds)]
        if token:
            argv += ["--token", token]
        for name, value in (headers or {}).items():
            argv += ["--header", f"{name}:{value}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=str(HERE), stdin=subprocess.DEVNULL)
        self.lines = []
        self.opened = False
        self.closed_code = None
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        h.cleanups.append(self.close)

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                if line == "open":
                    self.opened = True
                elif line.startswith("close "):
                    self.closed_code = int(line.split()[1])
                elif line != "timeout":
                    self.lines.append(line)

    def wait_open(self, timeout=10):
        if not wait_until(lambda: self.opened or self.proc.poll() is not None, timeout):
            raise RuntimeError("WebSocket did not open in time")
        if not self.opened:
            raise RuntimeError(f"WebSocket failed: {self.proc.stderr.read()}")

    def messages(self):
        with self._lock:
            return [json.loads(line) for line in self.lines]

    def wait_messages(self, n, timeout=10):
        wait_until(lambda: len(self.lines) >= n, timeout)
        return self.messages()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
