#!/usr/bin/env python3
"""DNS discovery: a backend named by host ("shop-product.test:PORT") is looked up every
dns_refresh, each address a backend. The names come from a hosts file of the test's own,
through nss_wrapper (LD_PRELOAD, NSS_WRAPPER_HOSTS), so the balancer runs the real getaddrinfo
path; the file is replaced (rename) to change the answer. Backends listen on 127.0.0.2-4,
which are loopback addresses too.

Shows: the first lookup fills the upstream; a new address gets traffic once its health check
passes; an address gone is drained under load with no failed request; a name that no longer
exists empties the upstream (503, not a hang) and comes back; a SIGHUP keeps the found backends
with their health and counters; `balancer -t` accepts names without looking them up;
the lookups are counted in /metrics."""
import os
import socket
import threading
import time
from pathlib import Path

from harness import (PYTHON, HERE, Process, free_port, http_request, run, run_cli, wait_for)

NSS_WRAPPER = "libnss_wrapper.so"
NAME = "shop-product.test"
HEALTH = ("{ path: /health, interval: 200ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")


def accepts(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def nss_wrapper_present():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        if Path(d, NSS_WRAPPER).exists():
            return True
    return False


class Hosts:
    """The hosts file the balancer's getaddrinfo reads; replaced whole so nss_wrapper sees a
    new file (it reloads on a changed inode)."""

    def __init__(self, path):
        self.path = path

    def set(self, *ips):
        tmp = self.path.with_suffix(".new")
        tmp.write_text("".join(f"{ip} {NAME}\n" for ip in ips) + "127.0.0.1 localhost\n")
        os.rename(tmp, self.path)


def config(port, admin_port, backend_port, refresh="300ms"):
    return f"""\
workers: 2
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  app:
    backends:
      - {{ address: {NAME}:{backend_port}, weight: 2 }}
    dns_refresh: {refresh}
    health_check: {HEALTH}
    connect_timeout: 500ms
    request_timeout: 30s
    retries: 1
routes:
  - match: {{ path_prefix: / }}
    upstream: app
"""


def upstream(admin_port):
    r = http_request(admin_port, "GET", "/upstreams", timeout=5)
    return {b["address"]: b for b in r.json()["upstreams"][0]["backends"]}


def healthy_set(admin_port):
    return {a for a, b in upstream(admin_port).items() if b["healthy"] and not b["draining"]}


def test(h):
    if not nss_wrapper_present():
        raise RuntimeError("libnss_wrapper.so missing: scripts/setup installs libnss-wrapper")
    port, admin_port, bport = free_port(), free_port(), free_port()
    backends = {}
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        name = ip.rsplit(".", 1)[1]
        p = Process(f"backend {ip}", [PYTHON, HERE / "backend.py", "--host", ip, "--port", bport,
                                      "--name", name], h.dir / f"backend-{name}.log")
        h.processes.append(p)
        backends[ip] = p
    for ip in backends:
        h.expect(wait_for(lambda ip=ip: accepts(ip, bport), 10), f"backend on {ip} listening")
    a2, a3, a4 = (f"127.0.0.{n}:{bport}" for n in (2, 3, 4))

    hosts = Hosts(h.dir / "hosts")
    hosts.set("127.0.0.2")
    path = h.write("balancer.yaml", config(port, admin_port, bport))

    with h.step("balancer -t accepts a host name without looking it up"):
        r = run_cli("-t", "-c", path)
        h.expect_eq(r.returncode, 0, f"balancer -t exit code ({r.stdout}{r.stderr})")
        bad = h.write("bad.yaml", config(port, admin_port, bport).replace(
            f"{NAME}:{bport}", "bad_name!.test:80"))
        r = run_cli("-t", "-c", bad)
        h.expect(r.returncode == 1 and "bad.yaml:" in r.stdout + r.stderr,
                 f"a bad host name is an error with its line: {r.stdout}{r.stderr}")

    env = {"LD_PRELOAD": NSS_WRAPPER, "NSS_WRAPPER_HOSTS": str(hosts.path),
           # the sanitizer build: nss_wrapper is preloaded before ASan's runtime, and its
           # fallback to libc must not dlopen with RTLD_DEEPBIND (ASan aborts on that)
           "NSS_WRAPPER_DISABLE_DEEPBIND": "1",
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        lb = h.balancer(path.read_text(), port)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    with h.step("the first lookup fills the upstream"):
        h.expect(wait_for(lambda: healthy_set(admin_port) == {a2}, 5),
                 f"backends {upstream(admin_port)}")
        r = lb.get("/")
        h.expect_eq((r.status, r.headers.get("X-Backend")), (200, "2"), "served by 127.0.0.2")
        h.expect_eq(upstream(admin_port)[a2]["weight"], 2, "the entry's weight")

    with h.step("a new address gets traffic once healthy"):
        hosts.set("127.0.0.2", "127.0.0.3")
        h.expect(wait_for(lambda: healthy_set(admin_port) == {a2, a3}, 5),
                 f"backends {upstream(admin_port)}")
        seen = {lb.get("/").headers.get("X-Backend") for _ in range(20)}
        h.expect_eq(seen, {"2", "3"}, "both addresses served")

    with h.step("an address gone is drained under load: no failed request"):
        failures, sent = [], [0]
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    r = http_request(port, "GET", "/delay?ms=20", timeout=5)
                    if r.status != 200:
                        failures.append(r.status)
                except OSError as e:
                    failures.append(repr(e))
                sent[0] += 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        hosts.set("127.0.0.3", "127.0.0.4")
        h.expect(wait_for(lambda: set(upstream(admin_port)) == {a3, a4}, 5),
                 f"127.0.0.2 removed: {upstream(admin_port)}")
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        h.expect(sent[0] > 50, f"load ran ({sent[0]} requests)")
        h.expect_eq(failures, [], f"failed requests out of {sent[0]}")
        h.expect(wait_for(lambda: healthy_set(admin_port) == {a3, a4}, 5), "127.0.0.4 up")

    with h.step("a reload keeps the found backends and their health"):
        before = upstream(admin_port)
        lb.proc.send_signal(1)  # SIGHUP
        h.expect(wait_for(lambda: "configuration reloaded" in lb.log_text(), 5), "reloaded")
        after = upstream(admin_port)
        h.expect_eq(set(after), set(before), "same backends right after the reload")
        h.expect(all(b["healthy"] for b in after.values()), f"still healthy: {after}")
        h.expect_eq({b["requests"] >= before[a]["requests"] for a, b in after.items()}, {True},
                    "counters carried over")

    with h.step("a name that no longer exists empties the upstream: 503, no hang"):
        hosts.set()
        h.expect(wait_for(lambda: upstream(admin_port) == {}, 5),
                 f"no backends: {upstream(admin_port)}")
        r = lb.get("/", timeout=40)
        h.expect_eq(r.status, 503, "no backend")
        # Wide for a loaded machine; waiting for a backend would last request_timeout (30 s).
        h.expect(r.elapsed < 10, f"answered at once, not at request_timeout: {r.elapsed:.2f}s")

    with h.step("the lookups are counted in /metrics"):
        text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
        ok = [line for line in text.splitlines()
              if line.startswith("balancer_dns_lookups_total") and 'result="ok"' in line]
        h.expect(ok and float(ok[0].rsplit(" ", 1)[1]) >= 3, f"ok lookups counted: {ok}")
        h.expect(f'balancer_dns_backends{{upstream="app",name="{NAME}:{bport}"}} 0' in text,
                 "backends gauge at 0")
        hosts.set("127.0.0.2")
        h.expect(wait_for(lambda: healthy_set(admin_port) == {a2}, 5), "back after NXDOMAIN")


if __name__ == "__main__":
    run(test)
