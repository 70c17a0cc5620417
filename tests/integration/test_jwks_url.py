#!/usr/bin/env python3
"""jwt.jwks_url: keys fetched over HTTPS (verified with jwt.jwks_ca) from a small server in
this test, refreshed per max-age, fetched again for an unknown kid (a rotation needs no
restart), the last good keys kept when a fetch fails or brings garbage; a balancer whose
first fetch fails still starts (401 until keys come); `balancer -t` fetches nothing."""
import http.server
import json
import os
import re
import signal
import ssl
import subprocess
import threading
import time

from harness import HERE, NODE, dev_certs, free_port, http_request, run, run_cli, wait_for


class KeyServer:
    """Serves /jwks.json over HTTPS as `mode` says: "ok" (body with Cache-Control), "500",
    or "garbage" (200, not a JWKS). Counts the requests."""

    def __init__(self, certs):
        self.body = b""
        self.cache_control = "max-age=3600"
        self.mode = "ok"
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                with server.lock:
                    server.requests += 1
                    mode, body, cc = server.mode, server.body, server.cache_control
                if mode == "500":
                    self.send_response(500)
                    body = b"down"
                else:
                    self.send_response(200)
                    self.send_header("Cache-Control", cc)
                    if mode == "garbage":
                        body = b'{"keys": "not a list"} <html>'
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "localhost.crt", certs / "localhost.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def set(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, v)

    def count(self):
        with self.lock:
            return self.requests

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def mint(h, subdir, suffix):
    out = h.dir / subdir
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out), suffix], check=True,
                   cwd=str(HERE), capture_output=True, timeout=30)
    return (out / "jwks.json").read_bytes(), json.loads((out / "tokens.json").read_text())


def config(backend_port, admin_port, url, extra=""):
    return f"""\
workers: 2
shutdown_timeout: 2s
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
admin: {{ address: 127.0.0.1:{admin_port} }}
jwt:
  jwks_url: {url}
{extra}  issuer: https://users.local
  audience: shop
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
routes:
  - match: {{ path_prefix: /api }}
    upstream: app
    auth: jwt
"""


def metrics(admin_port):
    text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
    out = {}
    for name, labels, value in re.findall(r'^(balancer_jwks_\w+)(\{[^}]*\})? (\S+)$', text,
                                          re.M):
        out[name + labels] = float(value)
    return out


def fetches(admin_port, result):
    return metrics(admin_port).get(f'balancer_jwks_fetches_total{{result="{result}"}}', 0)


def test(h):
    certs = h.dir / "certs"
    dev_certs(certs, "localhost")
    jwks_a, tokens_a = mint(h, "keys-a", "a")
    jwks_b, tokens_b = mint(h, "keys-b", "b")
    server = KeyServer(certs)
    h.cleanups.append(server.close)
    server.set(body=jwks_a)
    url = f"https://localhost:{server.port}/jwks.json"
    refresh = f"  jwks_ca: {certs / 'ca.crt'}\n  jwks_refresh: {{ min: 1s, max: 1h }}\n"
    backend = h.backend("app")
    bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731

    with h.step("balancer -t checks the config without fetching the keys"):
        path = h.write("check.yaml", config(backend.port, free_port(), url, refresh))
        r = run_cli("-t", "-c", path)
        h.expect_eq(r.returncode, 0, f"exit code ({r.stderr})")
        h.expect_eq(server.count(), 0, "requests to the key server")

    with h.step("config errors name the line: both sources, http:// to another host"):
        both = config(backend.port, free_port(), url, f"  jwks_file: {certs / 'ca.crt'}\n")
        r = run_cli("-t", "-c", h.write("both.yaml", both))
        h.expect_eq(r.returncode, 1, "exit code for both")
        h.expect(re.search(r"both\.yaml:7:\d+: jwt takes jwks_file or jwks_url, not both",
                           r.stderr), f"error names file:line:column: {r.stderr}")
        plain = config(backend.port, free_port(), "http://keys.example.com/jwks.json")
        r = run_cli("-t", "-c", h.write("plain.yaml", plain))
        h.expect_eq(r.returncode, 1, "exit code for http:// to a remote host")
        h.expect(re.search(r"plain\.yaml:7:\d+: jwt\.jwks_url http:// is only allowed", r.stderr),
                 f"error names file:line:column: {r.stderr}")
        h.expect_eq(server.count(), 0, "requests to the key server")

    admin_port = free_port()
    lb = h.balancer(config(backend.port, admin_port, url, refresh))

    with h.step("tokens are verified with the keys from the URL (HTTPS, private CA)"):
        h.expect(wait_for(lambda: lb.get("/api/x", headers=bearer(tokens_a["customer"])).status
                          == 200, 10), "a token of key set A is accepted")
        h.expect_eq(lb.get("/api/x", headers=bearer(tokens_a["courier"])).status, 200,
                    "an RS256 token of set A")
        h.expect_eq(lb.get("/api/x", headers=bearer(tokens_a["expired"])).status, 401,
                    "an expired token")
        m = metrics(admin_port)
        h.expect_eq(m.get("balancer_jwks_keys"), 2.0, "balancer_jwks_keys")
        h.expect(m.get('balancer_jwks_fetches_total{result="ok"}', 0) >= 1, f"ok fetches: {m}")
        h.expect(abs(m.get("balancer_jwks_last_success_timestamp_seconds", 0) - time.time()) < 60,
                 f"last success time: {m}")

    with h.step("max-age decides when the keys are fetched again (1h: not within 3s)"):
        # max-age=3600 was served: no fetch follows the first one (but the one a token asked
        # for while no keys were there yet, within the 1s unknown-kid spacing).
        time.sleep(1.5)
        before = server.count()
        time.sleep(3)
        h.expect_eq(server.count(), before, "fetches in 3s with max-age=3600")
        # A max-age of 1s is honoured from the next fetch on: an unknown kid brings it early.
        server.set(cache_control="public, max-age=1")
        lb.get("/api/x", headers=bearer(tokens_b["customer"]))
        h.expect(wait_for(lambda: server.count() > before, 5), "the unknown kid's refetch")
        start = server.count()
        time.sleep(3.5)
        n = server.count() - start
        h.expect(2 <= n <= 5, f"fetches in 3.5s with max-age=1: {n}")

    with h.step("a rotation: a token of the new key is accepted within one refetch"):
        server.set(cache_control="max-age=3600")
        time.sleep(1.5)  # the 1s answers run out; then nothing is fetched for an hour
        before = server.count()
        server.set(body=jwks_b)
        r = lb.get("/api/x", headers=bearer(tokens_b["customer"]))
        h.expect_eq(r.status, 401, "a new kid before the refetch: rejected, not held")
        t0 = time.monotonic()
        h.expect(wait_for(lambda: lb.get("/api/x", headers=bearer(tokens_b["customer"])).status
                          == 200, 5), "a token of key set B is accepted without a restart")
        h.expect(time.monotonic() - t0 < 3, "within one refetch (the 1s unknown-kid spacing)")
        h.expect(server.count() - before <= 2, f"fetches: {server.count() - before}")
        h.expect_eq(lb.get("/api/x", headers=bearer(tokens_a["customer"])).status, 401,
                    "set A is gone")

    with h.step("a flood of unknown kids: each 401 at once, the key server asked ~once a second"):
        before = server.count()
        t0 = time.monotonic()
        statuses = set()
        sent = 0
        while time.monotonic() - t0 < 3 and sent < 3000:
            r = lb.get("/api/x", headers=bearer(tokens_a["courier"]))
            statuses.add(r.status)
            sent += 1
        elapsed = time.monotonic() - t0
        fetched = server.count() - before
        print(f"   {sent} unknown-kid requests in {elapsed:.1f}s -> {fetched} fetches")
        h.expect_eq(statuses, {401}, "statuses")
        h.expect(fetched <= elapsed + 2, f"fetches: {fetched} in {elapsed:.1f}s")

    for mode in ("500", "garbage"):
        with h.step(f"a failed fetch ({mode}) keeps the last good keys"):
            errors = fetches(admin_port, "error")
            server.set(mode=mode)
            # A token of unknown kid asks for a fetch, which fails.
            lb.get("/api/x", headers=bearer(tokens_a["customer"]))
            h.expect(wait_for(lambda: fetches(admin_port, "error") > errors, 5),
                     "balancer_jwks_fetches_total{result=error} grows")
            h.expect_eq(lb.get("/api/x", headers=bearer(tokens_b["courier"])).status, 200,
                        "a token of the kept keys")
            h.expect_eq(metrics(admin_port).get("balancer_jwks_keys"), 2.0, "keys kept")
            server.set(mode="ok")

    with h.step("SIGHUP with the same jwks_url keeps the fetched keys (no refetch needed)"):
        time.sleep(2.5)  # the retry after the last failure has fetched; then max-age=3600
        before = server.count()
        os.kill(lb.pid, signal.SIGHUP)
        h.expect(wait_for(lambda: "SIGHUP: configuration reloaded" in lb.log_text(), 10),
                 "reloaded")
        h.expect_eq(lb.get("/api/x", headers=bearer(tokens_b["customer"])).status, 200,
                    "a token of the fetched keys right after the reload")
        h.expect_eq(server.count(), before, "fetches caused by the reload")

    with h.step("a balancer whose first fetch fails starts; 401 until the keys come"):
        dead = free_port()
        admin2 = free_port()
        lb2 = h.balancer(config(backend.port, admin2, f"http://127.0.0.1:{dead}/jwks.json",
                                "  jwks_refresh: { min: 1s, max: 1h }\n"))
        r = lb2.get("/api/x", headers=bearer(tokens_b["customer"]))
        h.expect_error_json(r, 401, "no keys yet")
        h.expect(wait_for(lambda: fetches(admin2, "error") >= 1, 5), "the failed fetch counted")
        h.expect_eq(metrics(admin2).get("balancer_jwks_keys"), 0.0, "no keys")


if __name__ == "__main__":
    run(test)
