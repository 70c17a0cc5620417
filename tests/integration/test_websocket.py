#!/usr/bin/env python3
"""WebSocket through the balancer: node ws client -> balancer -> node ws echo server."""
import json
import subprocess

from harness import HERE, NODE, run


def client(url, texts=5, binary_bytes=1024 * 1024):
    return [NODE, str(HERE / "ws_client.js"), "--url", url, "--texts", str(texts),
            "--binary-bytes", str(binary_bytes), "--timeout-ms", "20000"]


def check_client(h, res_code, stdout, stderr, what, texts=5):
    try:
        report = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        h.fail(f"{what}: no report from ws_client (exit {res_code}, stderr {stderr[-500:]!r})")
        return
    if not h.expect_eq(res_code, 0, f"{what}: ws_client exit code, report {report}"):
        return
    greeting = json.loads(report["greeting"])
    h.expect_eq(greeting.get("path"), "/ws/echo", f"{what}: path the ws server saw")
    h.expect_eq(report.get("texts_ok"), texts, f"{what}: text messages echoed")


def test(h):
    ws = h.ws_backend("ws1")
    lb = h.balancer(f"""\
workers: 2
shutdown_timeout: 2s
timeouts: {{ client_header: 10s, client_idle: 60s, tunnel_idle: 1h }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  ws:
    balance: round_robin
    backends:
      - {{ address: 127.0.0.1:{ws.port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
    retries: 1
routes:
  - match: {{ path_prefix: /ws }}
    upstream: ws
""")
    url = f"ws://127.0.0.1:{lb.port}/ws/echo"

    with h.step("greeting, 5 text messages and a 1 MiB binary message, echoed"):
        res = subprocess.run(client(url), capture_output=True, text=True, timeout=30)
        check_client(h, res.returncode, res.stdout, res.stderr, "one client")

    with h.step("4 clients at once: each gets its own echoes"):
        procs = [subprocess.Popen(client(url, texts=20, binary_bytes=256 * 1024),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=30)
            check_client(h, p.returncode, out, err, f"client {i}", texts=20)

    with h.step("plain HTTP to the same upstream still works"):
        r = lb.get("/ws/plain")
        h.expect_eq((r.status, r.header("X-Backend")), (200, "ws1"), "(status, backend)")


if __name__ == "__main__":
    run(test)
