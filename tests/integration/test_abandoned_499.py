#!/usr/bin/env python3
"""Code 499 (README "Metrics" and "Access log"): a client that aborts its connection while the
balancer waits for a slow backend is logged with status 499, one access log line for that
request, and counted in balancer_requests_total{code="499"}; a client that waits for its
answer is still 200. The client aborts with a reset (SO_LINGER 0), which cannot be mistaken
for a half-close after the request."""
import json
import re
import socket
import struct

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for


def requests_total(admin_port, code):
    """balancer_requests_total summed over routes for one code (0 when there is no series)."""
    text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
    return sum(float(m.group(1)) for m in re.finditer(
        r'^balancer_requests_total\{[^}]*code="%s"[^}]*\} (\S+)$' % code, text, re.M))


def log_lines(path):
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def line_for(path, request_id):
    return [x for x in log_lines(path) if x.get("request_id") == request_id]


def test(h):
    backend = h.backend("a")
    port, admin_port = free_port(), free_port()
    log = h.dir / "access.log"
    extra = f"admin: {{ address: 127.0.0.1:{admin_port} }}\naccess_log: {{ path: {log} }}"
    h.balancer(simple_config(port, [backend.port], workers=2, request_timeout="30s",
                             extra_top=extra), port)
    h.expect(wait_for(lambda: port_accepts(admin_port), 5), "admin port listening")

    with h.step("a client that waits for the slow backend gets 200, logged as 200"):
        r = http_request(port, "GET", "/slow?ms=300", headers={"X-Request-Id": "waits-1"},
                         timeout=20)
        h.expect_eq(r.status, 200, "status")
        h.expect(wait_for(lambda: line_for(log, "waits-1"), 10), "a log line for waits-1")
        h.expect_eq([x["status"] for x in line_for(log, "waits-1")], [200], "logged statuses")

    with h.step("a client that aborts while the backend works: one line with 499, counted"):
        before = requests_total(admin_port, "499")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\nX-Request-Id: leaves-1\r\n\r\n")
        # Leave only once the backend has the request: the balancer is waiting for it.
        h.expect(wait_for(lambda: backend.stats()["by_path"].get("GET /slow", 0) >= 2, 10),
                 "the backend received the slow request")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset: the client is gone, not half-closed
        # Generous: the line may come at once or only when the backend's answer arrives (3 s).
        h.expect(wait_for(lambda: line_for(log, "leaves-1"), 15, interval=0.2),
                 "a log line for leaves-1")
        lines = line_for(log, "leaves-1")
        h.expect_eq([x["status"] for x in lines], [499], f"logged statuses ({lines})")
        h.expect(wait_for(lambda: requests_total(admin_port, "499") == before + 1, 5),
                 f"balancer_requests_total{{code=\"499\"}} went from {before} to "
                 f"{requests_total(admin_port, '499')}, expected {before + 1}")

    with h.step("the next client is served as usual"):
        r = http_request(port, "GET", "/after", headers={"X-Request-Id": "after-1"}, timeout=10)
        h.expect_eq(r.status, 200, "status")
        h.expect(wait_for(lambda: line_for(log, "after-1"), 10), "a log line for after-1")


if __name__ == "__main__":
    run(test)
