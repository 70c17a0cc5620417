#!/usr/bin/env python3
"""Access log: one JSON line per request with the documented fields and values, nothing from a
listener with access_log: false, and SIGUSR1 after a rename starts a new file (logrotate)."""
import json
import os
import signal
import subprocess
import time

from harness import HERE, NODE, free_port, http_request, run

FIELDS = ["time", "request_id", "client", "listener", "method", "path", "status", "route",
          "upstream", "backend", "bytes_in", "bytes_out", "duration_ms", "upstream_duration_ms",
          "tls", "user"]


def mint(h):
    out = h.dir / "keys"
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out)], check=True, cwd=str(HERE),
                   capture_output=True, timeout=30)
    return out, json.loads((out / "tokens.json").read_text())


def config(port, quiet_port, backend_port, dead_port, log_path, jwks):
    return f"""\
workers: 2
shutdown_timeout: 2s
access_log: {{ path: {log_path}, format: json }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
  - {{ name: quiet, address: 127.0.0.1:{quiet_port}, access_log: false }}
jwt:
  jwks_file: {jwks}
  issuer: https://users.local
  audience: shop
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
  dead:
    backends: [{{ address: 127.0.0.1:{dead_port} }}]
    connect_timeout: 300ms
    retries: 0
routes:
  - match: {{ path_prefix: /api/me }}
    upstream: app
    auth: jwt
  - match: {{ path_prefix: /dead }}
    upstream: dead
  - match: {{ path_prefix: /app }}
    upstream: app
"""


def read_lines(path, want, timeout=3.0):
    """The log's lines once at least `want` are there (the writer flushes every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [l for l in text.split("\n") if l]
        if len(lines) >= want or time.monotonic() >= deadline:
            return [json.loads(l) for l in lines]
        time.sleep(0.05)


def test(h):
    keys, tokens = mint(h)
    backend = h.backend("a")
    port, quiet_port, dead_port = free_port(), free_port(), free_port()
    log_path = h.dir / "access.log"
    lb = h.balancer(config(port, quiet_port, backend.port, dead_port, log_path,
                           keys / "jwks.json"), port)

    with h.step("requests of several kinds produce one line each, with their fields"):
        r1 = lb.request("POST", "/app/echo?x=\"q\"", body=b"hello world",
                        headers={"X-Request-Id": "rid-post-1"})
        h.expect_eq(r1.status, 200, "POST status")
        r2 = lb.get("/nowhere")
        h.expect_eq(r2.status, 404, "no route")
        r3 = lb.get("/dead/x")
        h.expect_eq(r3.status, 502, "dead backend")
        r4 = lb.get("/api/me", headers={"Authorization": "Bearer " + tokens["customer"]})
        h.expect_eq(r4.status, 200, "JWT request")
        r5 = lb.get("/api/me")
        h.expect_eq(r5.status, 401, "no token")
        lines = read_lines(log_path, 5)
        h.expect_eq(len(lines), 5, "lines written")
        for line in lines:
            h.expect_eq(sorted(line.keys()), sorted(FIELDS), "fields")
        by_status = {l["status"]: l for l in lines}
        post = next((l for l in lines if l["method"] == "POST"), None)
        h.expect(post is not None, "the POST is logged")
        if post:
            h.expect_eq(post["request_id"], "rid-post-1", "request id")
            h.expect_eq(post["path"], "/app/echo?x=\"q\"", "path (escaped in JSON)")
            h.expect_eq(post["client"], "127.0.0.1", "client")
            h.expect_eq(post["listener"], "public", "listener")
            h.expect_eq(post["route"], "2:/app", "route label")
            h.expect_eq(post["upstream"], "app", "upstream")
            h.expect_eq(post["backend"], f"127.0.0.1:{backend.port}", "backend")
            h.expect(post["bytes_in"] >= len(b"hello world") + 20, f"bytes_in {post['bytes_in']}")
            h.expect(post["bytes_out"] >= len(r1.body), f"bytes_out {post['bytes_out']}")
            h.expect(0 < post["upstream_duration_ms"] <= post["duration_ms"] < 5000,
                     f"durations {post['duration_ms']} {post['upstream_duration_ms']}")
            h.expect_eq(post["tls"], None, "tls on a plain listener")
            h.expect_eq(post["user"], None, "no user without a token")
            h.expect(post["time"].endswith("Z") and post["time"][:2] == "20", post["time"])
        nr = by_status.get(404)
        h.expect(nr is not None and nr["route"] is None and nr["upstream"] is None
                 and nr["backend"] is None and nr["upstream_duration_ms"] is None
                 and nr["path"] == "/nowhere" and nr["method"] == "GET", f"404 line {nr}")
        dead = by_status.get(502)
        h.expect(dead is not None and dead["upstream"] == "dead"
                 and dead["backend"] == f"127.0.0.1:{dead_port}", f"502 line {dead}")
        h.expect(by_status.get(401, {}).get("route") == "0:/api/me", "401 line's route")
        me = [l for l in lines if l["status"] == 200 and l["path"] == "/api/me"]
        h.expect(len(me) == 1 and me[0]["user"] == "user-7", f"user from the token: {me}")

    with h.step("a listener with access_log: false writes nothing"):
        before = len(read_lines(log_path, 0, timeout=0))
        for _ in range(5):
            h.expect_eq(http_request(quiet_port, "GET", "/app/x").status, 200, "quiet listener")
        lb.get("/app/marker")
        lines = read_lines(log_path, before + 1)
        time.sleep(0.3)
        lines = read_lines(log_path, before + 1, timeout=0)
        h.expect_eq(len(lines), before + 1, "only the public listener's request was logged")
        h.expect_eq(lines[-1]["path"], "/app/marker", "the last line")

    with h.step("SIGUSR1 after a rename starts a new file"):
        rotated = h.dir / "access.log.1"
        os.rename(log_path, rotated)
        os.kill(lb.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 3
        while not log_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        h.expect(log_path.exists(), "a new file after SIGUSR1")
        lb.get("/app/after-rotate")
        lines = read_lines(log_path, 1)
        h.expect_eq([l["path"] for l in lines], ["/app/after-rotate"], "the new file's lines")
        old = read_lines(rotated, 0, timeout=0)
        h.expect(all(l["path"] != "/app/after-rotate" for l in old), "nothing new in the old file")

    with h.step("lines pending at shutdown are written"):
        for i in range(20):
            lb.get(f"/app/last-{i}")
        lb.terminate()
        lb.stopped = True
        lines = read_lines(log_path, 21, timeout=0)
        h.expect_eq(len([l for l in lines if l["path"].startswith("/app/last-")]), 20,
                    "the last 20 requests")


if __name__ == "__main__":
    run(test)
