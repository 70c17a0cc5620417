#!/usr/bin/env python3
"""GET /metrics on the admin address: `promtool check metrics` accepts a live scrape, and the
contract's series count 200s, a 404, a 502 from a dead backend, a 429 and a JWT rejection."""
import json
import re
import shutil
import subprocess

from harness import HERE, NODE, free_port, http_request, run, wait_for


def mint(h):
    out = h.dir / "keys"
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out)], check=True, cwd=str(HERE),
                   capture_output=True, timeout=30)
    return out / "jwks.json"


def config(port, admin_port, backend_port, dead_ports, jwks):
    return f"""\
workers: 2
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
jwt:
  jwks_file: {jwks}
  issuer: https://users.local
  audience: shop
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
    health_check: {{ path: /health, interval: 100ms, timeout: 1s }}
  dead:
    backends: [{{ address: 127.0.0.1:{dead_ports[0]} }}, {{ address: 127.0.0.1:{dead_ports[1]} }}]
    connect_timeout: 300ms
    retries: 1
routes:
  - match: {{ path_prefix: /secure }}
    upstream: app
    auth: jwt
  - match: {{ path_prefix: /limited }}
    upstream: app
    rate_limit: {{ rate: 1/m, burst: 1, key: ip, scope: local }}
  - match: {{ path_prefix: /dead }}
    upstream: dead
  - match: {{ path_prefix: /app }}
    upstream: app
"""


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, f"unparsable sample line {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def test(h):
    jwks = mint(h)
    backend = h.backend("a")
    port, admin_port, dead_ports = free_port(), free_port(), [free_port(), free_port()]
    lb = h.balancer(config(port, admin_port, backend.port, dead_ports, jwks), port)

    with h.step("requests of each kind"):
        for _ in range(3):
            h.expect_eq(lb.get("/app/x").status, 200, "200")
        conn = lb.connection()  # keep-alive: the second request reuses the upstream connection
        for _ in range(2):
            conn.request("GET", "/app/ka")
            resp = conn.getresponse()
            resp.read()
            h.expect_eq(resp.status, 200, "keep-alive 200")
        conn.close()
        h.expect_eq(lb.get("/nowhere").status, 404, "404")
        h.expect_eq(lb.get("/dead/x").status, 502, "502")
        h.expect_eq(lb.get("/limited").status, 200, "first within the limit")
        h.expect_eq(lb.get("/limited").status, 429, "429")
        h.expect_eq(lb.get("/secure").status, 401, "401 without a token")
        h.expect_eq(lb.get("/secure", headers={"Authorization": "Bearer x.y.z"}).status, 401,
                    "401 with a malformed token")

    r = http_request(admin_port, "GET", "/metrics")
    text = r.body.decode()
    with h.step("the scrape passes promtool check metrics"):
        h.expect_eq(r.status, 200, "status")
        h.expect((r.header("Content-Type") or "").startswith("text/plain"), "content type")
        promtool = shutil.which("promtool")
        h.expect(promtool is not None, "promtool installed (Debian package prometheus)")
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True,
                               timeout=20)
            problems = (p.stdout + p.stderr).decode().strip()
            h.expect(p.returncode == 0 and not problems, f"promtool: {problems}")

    with h.step("the contract's series count what happened"):
        s = parse(text)
        app = dict(route="3:/app", upstream="app")
        h.expect_eq(value(s, "balancer_requests_total", code="200", **app), 5.0, "200s on /app")
        h.expect_eq(value(s, "balancer_requests_total", route="unmatched", upstream="none",
                          code="404"), 1.0, "the 404")
        h.expect_eq(value(s, "balancer_requests_total", route="2:/dead", upstream="dead",
                          code="502"), 1.0, "the 502")
        h.expect_eq(value(s, "balancer_requests_total", route="1:/limited", upstream="app",
                          code="429"), 1.0, "the 429")
        h.expect_eq(value(s, "balancer_rate_limited_total", route="1:/limited"), 1.0,
                    "rate limited")
        h.expect_eq(value(s, "balancer_jwt_rejected_total", route="0:/secure", reason="missing"),
                    1.0, "JWT missing")
        h.expect_eq(value(s, "balancer_jwt_rejected_total", route="0:/secure",
                          reason="malformed"), 1.0, "JWT malformed")
        h.expect_eq(value(s, "balancer_request_duration_seconds_count", **app), 5.0,
                    "histogram count")
        h.expect_eq(value(s, "balancer_request_duration_seconds_bucket", le="+Inf", **app), 5.0,
                    "histogram +Inf")
        h.expect(value(s, "balancer_request_duration_seconds_bucket", le="0.0001", **app)
                 is not None, "100 us bucket")
        h.expect_eq(value(s, "balancer_upstream_backend_up", upstream="app",
                          backend=f"127.0.0.1:{backend.port}"), 1.0, "backend up")
        # The worker lets the backend go just after writing the answer's last bytes: a scrape
        # right after the client read it may still see 1. It must come back to 0.
        def in_flight():
            scrape = parse(http_request(admin_port, "GET", "/metrics").body.decode())
            return value(scrape, "balancer_upstream_in_flight", upstream="app",
                         backend=f"127.0.0.1:{backend.port}")
        h.expect(wait_for(lambda: in_flight() == 0.0, 10),
                 f"in flight back to 0 once every request was answered: {in_flight()}")
        h.expect(value(s, "balancer_client_connections") is not None, "client connections")
        h.expect_eq(value(s, "balancer_upstream_connect_errors_total", upstream="dead"), 2.0,
                    "connect errors (one retry)")
        h.expect_eq(value(s, "balancer_upstream_retries_total", upstream="dead"), 1.0, "retries")
        h.expect((value(s, "balancer_upstream_connections_total", upstream="app",
                        state="reused") or 0) >= 1, "pool reuse")
        h.expect((value(s, "balancer_health_checks_total", upstream="app",
                        backend=f"127.0.0.1:{backend.port}", result="success") or 0) >= 1,
                 "health checks")
        h.expect((value(s, "balancer_received_bytes_total", listener="public") or 0) > 500,
                 "bytes in")
        h.expect((value(s, "balancer_sent_bytes_total", listener="public") or 0) > 1000,
                 "bytes out")
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):
            h.expect((value(s, name) or 0) > 0, name)


if __name__ == "__main__":
    run(test)
