"""scripts/autoscaler end to end: a throwaway PostgreSQL and Redis, one product-service, the
real balancer in front (admin API with a token), and the real autoscaler process scraping the
balancer's /metrics (no Prometheus), requests per second as its metric.

  1. bounded load on GET /api/products/1 takes the upstream from 1 to 3 healthy instances
     (2 on a machine too busy for the load's full rate);
  2. SIGKILL of the autoscaler leaves them registered and serving; --dry-run --once decides
     and changes nothing; a restarted autoscaler adopts them (starts none);
  3. under a light load, well below target, it drains and stops its instances and the
     upstream is back to the stack's one, with zero failed requests meanwhile.

Every process started, the instances included (their state files and the autoscaler's
"started" lines name them), is stopped when the test ends, pass or fail."""
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "services"))
sys.path.insert(0, str(REPO / "scripts"))

from fixture import BIN_DIR, Process, Stores, free_port, run, start_service  # noqa: E402
from harness import PYTHON, http_request, wait_for  # noqa: E402

from autoscale import instances as inst  # noqa: E402

AUTOSCALER = REPO / "scripts" / "autoscaler"
TOKEN = "autoscaler-test-token"
TARGET_RPS = 100          # per instance
HIGH_RPS = 4 * 100        # 4 x the target on one instance: straight to max (3)
LIGHT_RPS = 3 * 20        # 0.2 x the target on three instances: down to 1
PATH = "/api/products/1"


def balancer_config(port, admin_port, backend_port):
    return f"""workers: 1
shutdown_timeout: 5s
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
admin:
  address: 127.0.0.1:{admin_port}
  token: {TOKEN}
upstreams:
  products:
    balance: round_robin
    backends: [{{ address: 127.0.0.1:{backend_port}, weight: 1 }}]
    health_check: {{ path: /health, interval: 200ms, timeout: 1s,
                    healthy_threshold: 1, unhealthy_threshold: 2 }}
    connect_timeout: 1s
    request_timeout: 5s
    retries: 1
routes:
  - match: {{ path_prefix: /api/products, methods: [GET, HEAD] }}
    upstream: products
"""


def policy(admin_port, stores, ports):
    settings = [f"{key}={value}" for key, value in stores.settings().items()]
    command = ["{bin_dir}/product-service", "--listen", "127.0.0.1:{port}"]
    for s in settings + ["log.level=info"]:
        command += ["--set", s]
    return f"""admin: http://127.0.0.1:{admin_port}
prometheus: false
services:
  product:
    upstream: products
    metric: requests_per_second
    target: {TARGET_RPS}
    min: 1
    max: 3
    sync_period: 1s
    stabilization: {{ scale_up: 0s, scale_down: 5s }}
    ports: {ports.start}-{ports.stop - 1}
    command: {json.dumps(command)}
    ready_timeout: 10s
    drain_timeout: 10s
    stop_timeout: 5s
"""


class Load:
    """`threads` keep-alive clients, each at `rate` requests/s, until stop() (bounded by
    `seconds`); counts every answer and every failure (non-2xx or connection error)."""

    def __init__(self, port, threads, rate, seconds):
        self.port, self.rate, self.deadline = port, rate, time.monotonic() + seconds
        self.ok = 0
        self.failures = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True)
                         for _ in range(threads)]
        for t in self._threads:
            t.start()

    def _client(self):
        conn = None
        next_at = time.monotonic() + random.random() / self.rate
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + 1 / self.rate, time.monotonic() - 1)
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", PATH)
                response = conn.getresponse()
                response.read()
                failure = None if 200 <= response.status < 300 else f"status {response.status}"
            except (OSError, http.client.HTTPException) as e:
                failure = f"{type(e).__name__}: {e}"
                conn.close()
                conn = None
            with self._lock:
                if failure:
                    self.failures.append((time.strftime("%T"), failure))
                else:
                    self.ok += 1
        if conn:
            conn.close()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        return self


class Autoscaler(Process):
    """scripts/autoscaler as a subprocess; its JSON lines parsed from its log."""

    def __init__(self, h, policy_path, run_dir, *extra, label="autoscaler"):
        super().__init__(label, [PYTHON, AUTOSCALER, "--policy", policy_path, "--run-dir",
                                 run_dir, "--bin-dir", BIN_DIR, *extra],
                         h.dir / f"{label}.log")

    def events(self, kind=None):
        found = []
        for line in self.log_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if kind is None or event.get("event") == kind:
                found.append(event)
        return found


def upstream(admin_port):
    r = http_request(admin_port, "GET", "/upstreams",
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    return next(u for u in r.json()["upstreams"] if u["name"] == "products")["backends"]


def healthy(admin_port):
    return sorted(b["address"] for b in upstream(admin_port) if b["healthy"] and not b["draining"])


def stop_instances(h, run_dir, autoscalers):
    """Stops every autoscaler, then every instance any of them started (state files and
    "started" lines), each pid checked to still be a *-service process."""
    for a in autoscalers:
        if a.alive():
            a.terminate(timeout=10)
    pids = {i.pid for i in inst.InstanceStore(run_dir).list("product")}
    for a in autoscalers:
        pids |= {e["pid"] for e in a.events("started")}
    for pid in pids:
        if inst.is_service_process(pid):
            inst.stop(pid, 5.0)


def test(h):
    os.environ["BALANCER_ADMIN_TOKEN"] = TOKEN  # the autoscalers' token, from the environment
    stores = Stores(h, seed=True)
    product = start_service(h, "product-service", stores)
    lb_port, admin_port = free_port(), free_port()
    lb = h.balancer(balancer_config(lb_port, admin_port, product.port), admin_port)
    lb.wait_port(lb_port)
    base = random.randrange(12000, 19000, 100)
    ports = range(base, base + 50)
    run_dir = h.dir / "run"
    policy_path = h.write("autoscaler.yaml", policy(admin_port, stores, ports))
    autoscalers = []
    h.cleanups.append(lambda: stop_instances(h, run_dir, autoscalers))
    store = inst.InstanceStore(run_dir)
    targets_file = run_dir / "prometheus" / "targets" / "services-product-autoscaler.json"

    with h.step("the stack's instance serves through the balancer"):
        h.expect(wait_for(lambda: healthy(admin_port) == [f"127.0.0.1:{product.port}"], 5),
                 f"product-service healthy in the upstream: {upstream(admin_port)}")
        h.expect_eq(http_request(lb_port, "GET", PATH).status, 200, "GET through the balancer")

    first = Autoscaler(h, policy_path, run_dir, "--no-prometheus", label="autoscaler-1")
    h.processes.append(first)
    autoscalers.append(first)

    with h.step(f"load at ~{HIGH_RPS} requests/s: from 1 to 2 or 3 healthy instances"):
        began = time.monotonic()
        load = Load(lb_port, 4, HIGH_RPS / 4, seconds=30)
        try:
            scaled = wait_for(lambda: len(healthy(admin_port)) >= 2, 25, interval=0.2)
        finally:
            load.stop()
        print(f"   {len(healthy(admin_port))} healthy after {time.monotonic() - began:.1f}s; "
              f"{load.ok} requests, {len(load.failures)} failed")
        h.expect(scaled, f"at least 2 healthy instances: {upstream(admin_port)}")
        # Settled: a decision taken after the load stopped changes nothing, and every
        # instance started is healthy (one may still have been starting).
        seen = len(first.events("decision"))
        settled = wait_for(lambda: any(d["desired"] == d["current"]
                                       for d in first.events("decision")[seen:])
                           and len(healthy(admin_port)) == 1 + len(store.list("product")), 15,
                           interval=0.2)
        h.expect(settled, f"settled: {upstream(admin_port)}, {store.list('product')}")
        ours = store.list("product")
        h.expect(len(ours) in (1, 2), f"state files: {ours}")
        h.expect_eq(healthy(admin_port),
                    sorted([f"127.0.0.1:{product.port}"] + [i.address for i in ours]),
                    "the upstream: the stack's instance and those started")
        h.expect(all(i.port in ports for i in ours), f"ports from the policy's range: {ours}")
        h.expect_eq(json.loads(targets_file.read_text()),
                    [{"targets": [i.address for i in ours], "labels": {"service": "product"}}],
                    "file-SD targets")
        decisions = [d for d in first.events("decision") if d["desired"] > d["current"]]
        h.expect(decisions, "a scale-up decision logged")
        keys = {"service", "metric", "value", "target", "ready", "not_ready", "current", "raw",
                "stabilized", "limited", "desired", "reason"}
        h.expect(decisions and keys <= set(decisions[0]), f"decision fields: {decisions[:1]}")

    with h.step("SIGKILL of the autoscaler: its instances keep running, registered, serving"):
        first.kill()
        before = store.list("product")
        time.sleep(0.5)
        h.expect_eq(len(healthy(admin_port)), 1 + len(before), "healthy after the kill")
        h.expect(all(inst.is_service_process(i.pid) for i in before), "instances alive")
        answers = [http_request(lb_port, "GET", PATH).status for _ in range(6)]
        h.expect_eq(answers, [200] * 6, "GETs through the balancer")

    with h.step("--dry-run --once: decisions printed, nothing done"):
        r = subprocess.run([PYTHON, AUTOSCALER, "--policy", policy_path, "--run-dir", run_dir,
                            "--no-prometheus", "--dry-run", "--once", "--token", TOKEN],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        h.expect_eq(r.returncode, 0, f"exit code (stderr {r.stderr[-500:]})")
        h.expect_eq(len([e for e in lines if e["event"] == "decision"]), 1, "one decision")
        h.expect_eq(len([e for e in lines if e["event"] == "adopted"]), len(before),
                    "each would be adopted")
        h.expect(all(e.get("dry_run") for e in lines if e["event"] in ("decision", "adopted")),
                 "marked dry_run")
        h.expect(not [e for e in lines if e["event"] in ("started", "draining", "stopped")],
                 f"nothing acted on: {r.stdout[-1000:]}")
        h.expect_eq(store.list("product"), before, "state files unchanged")

    second = Autoscaler(h, policy_path, run_dir, "--no-prometheus", label="autoscaler-2")
    h.processes.append(second)
    autoscalers.append(second)

    with h.step("a restarted autoscaler adopts the running instances"):
        h.expect(wait_for(lambda: len(second.events("adopted")) == len(before), 10),
                 "each adopted")
        h.expect_eq(sorted(e["address"] for e in second.events("adopted")),
                    sorted(i.address for i in before), "the instances adopted")

    with h.step(f"light load (~{LIGHT_RPS} requests/s): back to 1, no request failed"):
        began = time.monotonic()
        load = Load(lb_port, 3, LIGHT_RPS / 3, seconds=40)
        try:
            back = wait_for(lambda: len(upstream(admin_port)) == 1 and not store.list("product"),
                            30, interval=0.2)
            took = time.monotonic() - began
            time.sleep(1)  # requests after the last stop count too
        finally:
            load.stop()
        print(f"   back to 1 after {took:.1f}s; {load.ok} requests, "
              f"{len(load.failures)} failed")
        h.expect(back, f"one backend left, no state file: {upstream(admin_port)}, "
                       f"{store.list('product')}")
        h.expect_eq(healthy(admin_port), [f"127.0.0.1:{product.port}"], "the stack's instance")
        h.expect_eq(load.failures[:10], [], "failed requests during the scale-down")
        h.expect(load.ok >= 50, f"requests answered meanwhile: {load.ok}")
        h.expect_eq(second.events("started"), [], "the adopting autoscaler started none")
        h.expect_eq(sorted(e["address"] for e in second.events("stopped")),
                    sorted(i.address for i in before), "it stopped those it adopted")
        h.expect(not any(inst.alive(i.pid) for i in before), "their processes ended")
        h.expect_eq(json.loads(targets_file.read_text())[0]["targets"], [], "file-SD targets")

    with h.step("SIGTERM: the autoscaler exits at once"):
        code, killed = second.terminate(timeout=5)
        h.expect_eq((code, killed), (0, False), "exit code, SIGKILL needed")
        h.expect(second.events("stopping"), "said it stops")


if __name__ == "__main__":
    run(test, deadline=150)
