"""scripts/stack up | status | down: the whole development stack, beside a developer's one.

Every port is shifted (STACK_PORT_OFFSET, PG_PORT, REDIS_PORT) and every folder lives in the
test's temporary folder, so the stack a developer may have running is not touched. `up` runs
without setup and build, on the binaries of this build (BIN_DIR). `up` starts the prometheus
server (scripts/setup installs it; the test fails without it): the test checks that it scrapes
every part and records the rules.
An instance started as scripts/autoscaler would (from the stack's launch file, its state file in
autoscaler/instances/) is listed by `status` and stopped by `down`.
"""
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import (BIN_DIR, REPO, call, free_port, http_request, port_accepts, run,  # noqa: E402
                     wait_until)
from harness import connect_refused  # noqa: E402

STACK = REPO / "scripts" / "stack"
SERVICES = {"user": 7001, "product": 7101, "order": 7201, "notification": 7301}
BALANCER_PORTS = {"http": 8080, "https": 8443, "admin": 9901}
PROMETHEUS_PORT = 9090
PROMETHEUS = shutil.which("prometheus")
SEEDED = {"Kopi Arabika Gayo 250 g", "Teh Melati 100 g", "Batik Tulis Solo"}


def free_offset():
    """An offset that puts every service and balancer port on a free port below the
    ephemeral range (as harness.free_port does)."""
    wanted = list(SERVICES.values()) + list(BALANCER_PORTS.values()) + [PROMETHEUS_PORT]
    for _ in range(200):
        offset = random.randint(11000, 22000)
        if all(_bindable(p + offset) for p in wanted):
            return offset
    raise RuntimeError("no free port offset found")


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def https_get(port, path, ca_file, name="shop.test"):
    """GET over TLS, the certificate verified with `ca_file` for `name` (sent as SNI unless it
    is an address, as browsers do)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
                        .encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def websocket_status(port, path):
    """The status of a WebSocket upgrade request (101 when the tunnel opens)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data and (chunk := conn.recv(4096)):
            data += chunk
    return int(data.split(b" ", 2)[1])


def proc_argv(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def write_atomic(path, text):
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text)
    tmp.rename(path)


def get_json(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.load(r)


def prometheus_state(base, expected_targets):
    """What still keeps Prometheus from being done: [] once it is ready, every expected
    target {(job, instance, service label)} is up and the recording rule has a value."""
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
            if r.status != 200:
                return [f"/-/ready answers {r.status}"]
        active = get_json(f"{base}/api/v1/targets")["data"]["activeTargets"]
        rule = "upstream:balancer_upstream_backend_up:sum"
        result = get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": rule}))
    except (OSError, ValueError, KeyError) as e:
        return [f"{type(e).__name__}: {e}"]
    up = {(t["labels"].get("job"), t["labels"].get("instance"), t["labels"].get("service"))
          for t in active if t.get("health") == "up"}
    missing = [f"target {t} not up" for t in sorted(expected_targets, key=str) if t not in up]
    values = {r["metric"].get("upstream"): r["value"][1] for r in result["data"]["result"]}
    if "products" not in values:
        missing.append(f"{rule} has no value for upstream products: {values}")
    return missing


def test(h):
    os.chmod(h.dir, 0o755)  # as root, PostgreSQL runs as another user that must reach its folder
    missing = [s for s in SERVICES if not (BIN_DIR / f"{s}-service").exists()]
    if missing:
        raise RuntimeError(f"not built in {BIN_DIR}: {', '.join(s + '-service' for s in missing)}")
    offset = free_offset()
    port = {name: p + offset for name, p in {**SERVICES, **BALANCER_PORTS}.items()}
    pg_port = redis_port = port["http"]
    while pg_port in port.values() or redis_port in port.values() or pg_port == redis_port:
        pg_port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHOP_") and not k.startswith("STACK_")}  # not the developer's
    env.update(STACK_SKIP_SETUP="1", STACK_SKIP_BUILD="1", STACK_BIN_DIR=str(BIN_DIR),
               STACK_RUN_DIR=str(h.dir / "stack"), STACK_PORT_OFFSET=str(offset),
               PGDATA_DIR=str(h.dir / "pg"), PG_PORT=str(pg_port), PG_INITDB_NOSYNC="1",
               REDIS_DIR=str(h.dir / "redis"), REDIS_PORT=str(redis_port),
               KEYS_DIR=str(h.dir / "keys"), CERTS_DIR=str(h.dir / "certs"))
    ca = h.dir / "certs" / "ca.crt"

    def stack(*args, timeout=60):
        r = subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        print("\n".join("   | " + line for line in (r.stdout + r.stderr).splitlines()))
        return r

    run_dir = h.dir / "stack"
    # Part of the stack (scripts/setup installs it): its checks run, or the test fails.
    h.expect(PROMETHEUS, "prometheus is installed (scripts/setup installs it)")
    parts = [f"{s}-service" for s in SERVICES] + ["balancer", "prometheus"]
    prometheus_url = f"http://127.0.0.1:{PROMETHEUS_PORT + offset}"
    h.cleanups.append(lambda: stack("down"))

    with h.step("up starts every part"):
        start = time.monotonic()
        r = stack("up")
        h.expect_eq(r.returncode, 0, "scripts/stack up exit code")
        print(f"   up took {time.monotonic() - start:.1f}s")
        h.expect(f"http://127.0.0.1:{port['http']}" in r.stdout, "up prints the balancer URL")
        h.expect(f"storefront     http://127.0.0.1:{port['http']}/" in r.stdout,
                 "up prints the storefront's URL")
        h.expect("admin@shop.test" in r.stdout, "up prints the seeded admin")
        h.expect(prometheus_url in r.stdout, "up prints Prometheus's URL")
    prometheus_started = time.monotonic()

    with h.step("up again keeps what runs, and reloads the balancer's configuration"):
        balancer_log = run_dir / "logs" / "balancer.log"

        def reloads():
            return balancer_log.read_text().count("SIGHUP: configuration reloaded")
        before = reloads()
        r = stack("up")
        h.expect_eq(r.returncode, 0, "second up exit code")
        for part in parts:
            h.expect(f"{part} already running" in r.stdout, f"second up keeps {part}")
        h.expect(wait_until(lambda: reloads() == before + 1, timeout=10),
                 "the running balancer reloaded its configuration (an edit applies)")

    with h.step("status: all run"):
        r = stack("status")
        h.expect_eq(r.returncode, 0, "status exit code")
        lines = r.stdout.splitlines()
        for part in parts + ["redis", "postgresql"]:
            line = next((x for x in lines if x.startswith(part + " ")), "")
            h.expect("running (pid" in line, f"status of {part}: {line!r}")

    with h.step("launch files say how each service was started, without --listen"):
        for s in SERVICES:
            launch = json.loads((run_dir / "launch" / f"{s}.json").read_text())
            h.expect_eq(launch["cwd"], str(REPO), f"launch/{s}.json cwd")
            h.expect_eq(launch["argv"][0], str(BIN_DIR / f"{s}-service"), f"{s}: binary")
            h.expect("--listen" not in launch["argv"], f"{s}: no --listen in {launch['argv']}")
            pid = int((run_dir / f"{s}-service.pid").read_text())
            h.expect_eq(proc_argv(pid), launch["argv"] + ["--listen", f"127.0.0.1:{port[s]}"],
                        f"{s}-service's command line vs its launch file")

    # One instance as scripts/autoscaler starts it, and a state file whose pid is no service:
    # `down` stops the first and must leave the second alone.
    instances = run_dir / "autoscaler" / "instances"
    extra = decoy = None
    with h.step("an instance started from launch/product.json serves; status lists it"):
        launch = json.loads((run_dir / "launch" / "product.json").read_text())
        extra_port = free_port()
        extra = subprocess.Popen(launch["argv"] + ["--listen", f"127.0.0.1:{extra_port}"],
                                 cwd=launch["cwd"], start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(h.dir / "extra-product.log", "wb"))
        h.cleanups.append(lambda: extra.poll() is None and os.kill(extra.pid, signal.SIGKILL))
        decoy = subprocess.Popen(["sleep", "120"], start_new_session=True)
        h.cleanups.append(lambda: decoy.poll() is None and os.kill(decoy.pid, signal.SIGKILL))
        instances.mkdir(parents=True, exist_ok=True)
        for name, pid, p in [(f"product-{extra_port}", extra.pid, extra_port),
                             ("product-1", decoy.pid, 1)]:
            write_atomic(instances / f"{name}.json", json.dumps(
                {"service": "product", "address": f"127.0.0.1:{p}", "port": p, "pid": pid,
                 "started_at": time.time(), "argv": launch["argv"]}))
        write_atomic(run_dir / "prometheus" / "targets" / "services-product-autoscaler.json",
                     json.dumps([{"targets": [f"127.0.0.1:{extra_port}"],
                                  "labels": {"service": "product"}}]))
        ready = wait_until(lambda: extra.poll() is None and port_accepts(extra_port)
                           and call(extra_port, "GET", "/ready").status == 200, timeout=10)
        h.expect(ready, f"the extra product-service answers /ready on {extra_port}")
        r = stack("status")
        h.expect_eq(r.returncode, 0, "status exit code with autoscaler instances")
        h.expect(f"running (pid {extra.pid}, 127.0.0.1:{extra_port}" in r.stdout,
                 "status lists the running instance")
        h.expect("stopped (autoscaler/instances/product-1.json)" in r.stdout,
                 "status lists the state file whose pid is no service as stopped")

    with h.step("each service answers /health and /ready"):
        for s in SERVICES:
            h.expect_eq(call(port[s], "GET", "/health").status, 200, f"{s} /health")
            h.expect_eq(call(port[s], "GET", "/ready").status, 200, f"{s} /ready")

    with h.step("the balancer answers on HTTP and TLS"):
        h.expect_eq(http_request(port["http"], "GET", "/no-such-route").status, 404,
                    "unrouted path")
        status, _ = https_get(port["https"], "/no-such-route", ca)
        h.expect_eq(status, 404, "unrouted path over TLS (shop.test, the dev CA)")
        # What the README opens in a browser: https://127.0.0.1:PORT/, verified with the CA.
        status, _ = https_get(port["https"], "/no-such-route", ca, name="127.0.0.1")
        h.expect_eq(status, 404, "over TLS to 127.0.0.1 (the default certificate names it)")
        # config/stack.yaml configures the admin API; Prometheus scrapes the balancer there.
        h.expect(port_accepts(port["admin"]), f"the admin API listens on {port['admin']}")
        h.expect_eq(http_request(port["admin"], "GET", "/health").status, 200,
                    "admin /health")
        # The stack's admin API has a token (scripts/dev-keys): nothing else is open without it.
        h.expect_eq(http_request(port["admin"], "GET", "/upstreams").status, 401,
                    "admin /upstreams without the token")
        token = (h.dir / "keys" / "admin-token").read_text().strip()
        h.expect(len(token) >= 32, f"a generated token ({len(token)} characters)")
        h.expect_eq(http_request(port["admin"], "GET", "/metrics",
                                 headers={"Authorization": f"Bearer {token}"}).status, 200,
                    "admin /metrics with the token (what Prometheus sends)")

    with h.step("scripts/autoscaler --dry-run --once finds this stack's admin API and "
                "Prometheus (stack.env: the shifted ports)"):
        r = subprocess.run([str(REPO / "scripts" / "autoscaler"), "--dry-run", "--once",
                            "--service", "product"], capture_output=True, text=True,
                           env=dict(env, BALANCER_ADMIN_TOKEN=token),  # of KEYS_DIR
                           timeout=60, stdin=subprocess.DEVNULL)
        print("\n".join("   | " + line for line in (r.stdout + r.stderr).splitlines()))
        events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        start = next((e for e in events if e["event"] == "start"), {})
        h.expect_eq((start.get("admin"), start.get("prometheus")),
                    (f"http://127.0.0.1:{port['admin']}", prometheus_url),
                    "the autoscaler's admin API and Prometheus")
        h.expect([e["event"] for e in events if e["event"] in ("decision", "error")] ==
                 ["decision"], "one decision for product, no error")
        h.expect_eq(r.returncode, 0, "scripts/autoscaler --dry-run --once exit code")

    with h.step("GET /api/products through the balancer lists the seeded products"):
        r = wait_until(lambda: (x := http_request(port["http"], "GET", "/api/products"))
                       .status == 200 and x, timeout=8, interval=0.2)
        h.expect(r and r.status == 200, f"GET /api/products: {r}")
        names = {p.get("name") for p in r.json().get("items", [])} if r else set()
        h.expect(SEEDED <= names, f"seeded products listed: {sorted(names)}")
        status, _ = https_get(port["https"], "/api/products", ca)
        h.expect_eq(status, 200, "GET /api/products over TLS")

    with h.step("the storefront at / (web/, config/stack.yaml's static route)"):
        r = http_request(port["http"], "GET", "/")
        h.expect_eq((r.status, r.header("Content-Type", "").split(";")[0]), (200, "text/html"),
                    "GET / (web/index.html)")
        h.expect(b"shop.js" in r.body, "the storefront's page")

    with h.step("product reads cached at the edge (config/stack.yaml's cache zone)"):
        path = "/api/products?limit=3"
        answers = [http_request(port["http"], "GET", path) for _ in range(2)]
        edge = [(x.headers.get_all("X-Cache") or [None])[-1] for x in answers]
        h.expect_eq(edge, ["MISS", "HIT"], "the balancer's X-Cache (its own is the last)")
        h.expect(answers[1].header("Age") is not None, "Age: the hit came from the edge cache")
        h.expect_eq(answers[1].body, answers[0].body, "the same list")

    with h.step("the seeded admin logs in; its token opens /api/users/me and the WebSocket"):
        r = http_request(port["http"], "POST", "/api/auth/login",
                         body=json.dumps({"email": "admin@shop.test",
                                          "password": "admin-pass"}).encode(),
                         headers={"Content-Type": "application/json"})
        h.expect_eq(r.status, 200, f"login ({r.body[:200]!r})")
        token = r.json().get("access_token") if r.status == 200 else None
        if token:
            me = http_request(port["http"], "GET", "/api/users/me",
                              headers={"Authorization": f"Bearer {token}"})
            h.expect_eq(me.status, 200, f"GET /api/users/me with the token ({me.body!r})")
            h.expect_eq(websocket_status(port["http"], f"/ws/notifications?access_token={token}"),
                        101, "WebSocket upgrade with ?access_token=")
        h.expect_eq(http_request(port["http"], "GET", "/api/users/me").status, 401,
                    "GET /api/users/me without a token")

    with h.step("Prometheus is ready, scrapes every part and records the rules"):
        expected = {("balancer", f"127.0.0.1:{port['admin']}", None),
                    ("prometheus", f"127.0.0.1:{PROMETHEUS_PORT + offset}", None)}
        expected |= {("services", f"127.0.0.1:{port[s]}", s) for s in SERVICES}
        if extra:
            expected.add(("services", f"127.0.0.1:{extra_port}", "product"))
        # A first scrape within 5 s, the rule's evaluation 5 s later: 30 s leaves a busy
        # machine room (what is measured is that it happens, not how fast).
        done = wait_until(lambda: not prometheus_state(prometheus_url, expected),
                          timeout=max(1.0, 30 - (time.monotonic() - prometheus_started)),
                          interval=0.5)
        h.expect(done, f"Prometheus: {prometheus_state(prometheus_url, expected)}")
        print(f"   Prometheus complete {time.monotonic() - prometheus_started:.1f}s after up")

    with h.step("down stops everything"):
        pids = [int((run_dir / f"{name}.pid").read_text()) for name in parts]
        r = stack("down")
        h.expect_eq(r.returncode, 0, "scripts/stack down exit code")
        r = stack("status")
        h.expect_eq(r.returncode, 3, "status exit code after down")
        h.expect("running" not in r.stdout, "status after down shows nothing running")
        closed = [*port.items(), ("postgresql", pg_port), ("redis", redis_port),
                  ("prometheus", PROMETHEUS_PORT + offset)]
        for name, p in closed:
            h.expect(connect_refused(p), f"{name} port {p} closed")
        for pid in pids:
            # Gone, or a zombie (no cmdline) waiting for init to reap it.
            h.expect(not os.path.exists(f"/proc/{pid}/cmdline")
                     or not open(f"/proc/{pid}/cmdline", "rb").read(), f"pid {pid} exited")
        if extra:
            h.expect(extra.poll() is not None, "down stopped the autoscaler's instance")
            h.expect(decoy.poll() is None, "down left a state file's non-service pid alone")
            h.expect_eq(sorted(instances.glob("*.json")), [], "state files removed")
            h.expect(not (run_dir / "prometheus" / "targets" /
                          "services-product-autoscaler.json").exists(),
                     "the autoscaler's targets file removed with its instances")


run(test, deadline=90)
