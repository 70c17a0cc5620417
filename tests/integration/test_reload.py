#!/usr/bin/env python3
"""SIGHUP reloads the whole configuration: under continuous keep-alive load, 10 reloads that
add and remove a backend and a route fail no request; a bad config (YAML or semantic) keeps
the running one, logs FILE:LINE:COLUMN and counts a failed reload; a backend added through
the admin API survives a reload of a YAML that does not list it; a new listener opens and a
removed one stops accepting while its in-flight request finishes; a WebSocket tunnel
survives; an unhealthy backend stays unhealthy right after a reload."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from harness import (HERE, NODE, connect_refused, free_port, http_request, port_accepts, run,
                     wait_for)

# A 2 s check timeout: under the load step's four threads on a busy machine (ASan, ctest -j2)
# the Python backends may answer a probe late, which is not what this test is about; a
# non-2xx answer (the `sick` steps) still takes a backend down at once.
HEALTH = ("{ path: /health, interval: 200ms, timeout: 2s, healthy_threshold: 2, "
          "unhealthy_threshold: 1 }")


class Setup:
    def __init__(self, h):
        self.a, self.b, self.c = h.backend("a"), h.backend("b"), h.backend("c")
        self.d = h.backend("d")  # added through the admin API only
        self.ws = h.ws_backend("ws1")
        self.port, self.admin_port = free_port(), free_port()

    def config(self, *, with_b=False, with_extra=False, listener2=None, broken=None):
        backends = f"      - {{ address: 127.0.0.1:{self.a.port}, weight: 1 }}\n"
        if with_b:
            backends += f"      - {{ address: 127.0.0.1:{self.b.port}, weight: 1 }}\n"
        listeners = f"  - {{ name: public, address: 127.0.0.1:{self.port} }}\n"
        if listener2:
            listeners += f"  - {{ name: second, address: 127.0.0.1:{listener2} }}\n"
        extra_route = ""
        if with_extra:
            extra_route = ("  - match: { path_prefix: /extra }\n"
                           "    upstream: app\n"
                           "    strip_prefix: /extra\n")
        text = f"""\
workers: 2
shutdown_timeout: 2s
timeouts: {{ client_header: 10s, client_idle: 60s, tunnel_idle: 1s }}
admin: {{ address: 127.0.0.1:{self.admin_port} }}
listeners:
{listeners}upstreams:
  app:
    balance: round_robin
    backends:
{backends}    health_check: {HEALTH}
    connect_timeout: 500ms
    request_timeout: 5s
    retries: 1
  sick:
    backends:
      - {{ address: 127.0.0.1:{self.c.port} }}
    health_check: {HEALTH}
  ws:
    backends:
      - {{ address: 127.0.0.1:{self.ws.port} }}
routes:
  - match: {{ path_prefix: /api }}
    upstream: app
    strip_prefix: /api
  - match: {{ path_prefix: /sick }}
    upstream: sick
  - match: {{ path_prefix: /ws }}
    upstream: ws
{extra_route}"""
        if broken == "yaml":
            text += "routes: [ { unclosed\n"
        elif broken == "semantic":
            text = text.replace("    upstream: sick\n", "    upstream: nowhere\n")
        return text


def test(h):
    s = Setup(h)
    lb = h.balancer(s.config(), s.port)
    h.expect(wait_for(lambda: port_accepts(s.admin_port), 5), "admin port listening")
    log_offset = [0]

    def admin(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        return http_request(s.admin_port, method, path, body=data, headers=headers, timeout=5)

    def backends(upstream):
        for u in admin("GET", "/upstreams").json()["upstreams"]:
            if u["name"] == upstream:
                return {b["address"]: b for b in u["backends"]}
        return None

    def reloads(result):
        text = admin("GET", "/metrics").body.decode()
        m = re.search(r'^balancer_config_reloads_total\{result="%s"\} (\S+)$' % result, text,
                      re.M)
        return float(m.group(1)) if m else None

    def client_connections():
        text = admin("GET", "/metrics").body.decode()
        m = re.search(r"^balancer_client_connections(?:\{[^}]*\})? (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0

    def reload(config_text, expect_ok=True):
        before = reloads("success" if expect_ok else "failure") or 0
        lb.config_path.write_text(config_text)
        os.kill(lb.pid, signal.SIGHUP)
        done = wait_for(lambda: (reloads("success" if expect_ok else "failure") or 0) > before,
                        15)
        h.expect(done, f"reload counted as {'success' if expect_ok else 'failure'}")
        time.sleep(0.05)  # the workers take it within one loop turn

    addr_b = f"127.0.0.1:{s.b.port}"

    with h.step("10 reloads under keep-alive load: no failed request"):
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0}
        errors = []
        lock = threading.Lock()

        def load():
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            deadline = time.monotonic() + 12
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = http_request(s.port, "GET", "/api/x", conn=conn)
                    ok = r.status == 200
                    why = f"status {r.status}"
                except Exception as e:  # noqa: BLE001 - any failure is counted
                    ok, why = False, repr(e)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
                with lock:
                    counts["ok" if ok else "failed"] += 1
                    if not ok and len(errors) < 5:
                        errors.append(why)
            conn.close()

        b_before = s.b.stats()["proxied"]
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(10):
                present = i % 2 == 0
                reload(s.config(with_b=present, with_extra=present))
                want = 200 if present else 404
                h.expect(wait_for(lambda: lb.get("/extra/y", timeout=5).status == want, 10),
                         f"reload {i + 1}: /extra answers {want}")
                h.expect_eq(addr_b in backends("app"), present, f"reload {i + 1}: b listed")
                time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
        print(f"load during reloads: {counts['ok']} ok, {counts['failed']} failed {errors}")
        h.expect(counts["ok"] > 100, f"requests served during reloads: {counts['ok']}")
        h.expect_eq(counts["failed"], 0, f"failed requests during reloads ({errors})")
        h.expect_eq(reloads("success"), 10.0, "balancer_config_reloads_total{result=success}")
        b_proxied = s.b.stats()["proxied"] - b_before
        h.expect(b_proxied > 0, f"backend b got traffic while listed: {b_proxied} requests")

    with h.step("a bad config keeps the running one, names FILE:LINE:COLUMN, counts a failure"):
        good = s.config()
        reload(good)
        for n, kind in enumerate(("yaml", "semantic"), start=1):
            reload(s.config(with_extra=True, broken=kind), expect_ok=False)
            h.expect_eq(reloads("failure"), float(n), f"{kind}: failed reloads counted")
            h.expect_eq(lb.get("/api/x").status, 200, f"{kind}: old config still serves /api")
            h.expect_eq(lb.get("/extra/y").status, 404, f"{kind}: the bad config's route absent")
        log = lb.log_text()
        where = re.escape(str(lb.config_path)) + r":\d+:\d+: "
        h.expect(re.search(where, log), "the log names FILE:LINE:COLUMN")
        h.expect("configuration not reloaded" in log, "the log says the config was not taken")

    with h.step("a backend added through the admin API survives a reload"):
        addr_d = f"127.0.0.1:{s.d.port}"
        r = admin("POST", "/upstreams/app/backends", {"address": addr_d, "weight": 2})
        h.expect_eq(r.status, 201, "POST backend")
        h.expect(wait_for(lambda: backends("app")[addr_d]["healthy"], 10), "d comes up")
        reload(s.config())
        d = backends("app").get(addr_d)
        h.expect(d is not None, "d still listed after the reload")
        if d:
            h.expect_eq((d["healthy"], d["weight"]), (True, 2), "d: (healthy, weight) kept")

    with h.step("a new listener opens; a removed one stops accepting, its request finishes"):
        port2 = free_port()
        reload(s.config(listener2=port2))
        h.expect(wait_for(lambda: port_accepts(port2), 10), "new listener accepts")
        h.expect_eq(http_request(port2, "GET", "/api/x").status, 200, "served on the new one")
        result = {}

        def slow():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port2, timeout=10)
                result["first"] = http_request(port2, "GET", "/api/x", conn=conn).status
                result["slow"] = http_request(port2, "GET", "/api/slow?ms=2000", conn=conn).status
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)

        def slow_seen():  # by app's backends: a, and d since the admin API added it
            return sum(x.stats()["by_path"].get("GET /slow", 0) for x in (s.a, s.d))

        slow_before = slow_seen()
        t = threading.Thread(target=slow)
        t.start()
        # Reload once the slow request is at a backend, i.e. in flight.
        h.expect(wait_for(lambda: slow_seen() > slow_before, 10),
                 "the slow request reached a backend")
        reload(s.config())
        h.expect(wait_for(lambda: connect_refused(port2), 10), "removed listener refuses")
        h.expect_eq(lb.get("/api/x").status, 200, "the kept listener still serves")
        h.expect("slow" not in result, "the slow request was still in flight after the reload")
        t.join(timeout=15)
        h.expect_eq((result.get("first"), result.get("slow"), result.get("error")),
                    (200, 200, None), "keep-alive requests on the removed listener")

    with h.step("a WebSocket tunnel survives reloads"):
        proc = subprocess.Popen(
            [NODE, str(HERE / "ws_idle_client.js"), "--url", f"ws://127.0.0.1:{s.port}/ws/x",
             "--interval-ms", "100", "--duration-ms", "4000", "--timeout-ms", "20000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Reload once the tunnel is open (the only client connection now).
        h.expect(wait_for(lambda: client_connections() >= 1, 10), "the tunnel is open")
        reload(s.config(with_b=True))
        time.sleep(0.4)
        reload(s.config())
        h.expect(proc.poll() is None, "the client was still talking after both reloads")
        out, err = proc.communicate(timeout=30)
        try:
            report = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = {}
            h.fail(f"no report from ws_idle_client: {out!r} {err[-300:]!r}")
        h.expect_eq(report.get("closed_while_talking"), False, f"tunnel kept open ({report})")
        h.expect(report.get("sent", 0) >= 10 and report.get("echoed") == report.get("sent"),
                 f"every message echoed ({report})")

    with h.step("an unhealthy backend stays unhealthy right after a reload"):
        addr_c = f"127.0.0.1:{s.c.port}"
        s.c.set_healthy(False)
        h.expect(wait_for(lambda: not backends("sick")[addr_c]["healthy"], 10), "c goes down")
        reload(s.config())
        h.expect_eq(backends("sick")[addr_c]["healthy"], False, "c down right after the reload")
        h.expect_eq(lb.get("/sick/x").status, 503, "no traffic to c")
        s.c.set_healthy(True)
        h.expect(wait_for(lambda: backends("sick")[addr_c]["healthy"], 10), "c comes back")

    with h.step("metrics stay valid after reloads (one series per label set)"):
        text = admin("GET", "/metrics").body.decode()
        series = [line.rsplit(" ", 1)[0] for line in text.splitlines()
                  if line and not line.startswith("#")]
        dupes = sorted({x for x in series if series.count(x) > 1})
        h.expect_eq(dupes, [], "duplicate series")
        h.expect(re.search(r'^balancer_config_last_reload_success_timestamp_seconds \d', text,
                           re.M), "last reload timestamp exposed")
        h.expect('route="3:/extra",upstream="app",code="200"' in text,
                 "a removed route's counts stay (counters do not go back)")
        # scripts/setup installs promtool (Debian package prometheus): missing is a failure.
        promtool = shutil.which("promtool")
        if h.expect(promtool is not None, "promtool installed (Debian package prometheus, "
                                          "scripts/setup)"):
            p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=20)
            problems = (p.stdout + p.stderr).decode().strip()
            h.expect(p.returncode == 0 and not problems, f"promtool: {problems}")


if __name__ == "__main__":
    run(test)
