#!/usr/bin/env python3
"""Client-side timeouts (client_header against slowloris, client_idle between keep-alive
requests, tunnel_idle for upgraded connections) and connect_timeout to a backend whose port
never completes the handshake."""
import json
import socket
import subprocess
import time

from harness import HERE, NODE, free_port, parse_response, run, simple_config

TIMEOUTS = "timeouts: { client_header: 1s, client_idle: 1s, tunnel_idle: 1s }"
# A 1 s timeout fires in this window. Times are taken from before the event that starts the
# balancer's timer, so a late client only makes them longer; LATEST is wide for a loaded
# machine yet far below what fires otherwise (nothing, or request_timeout).
EARLIEST, LATEST = 0.8, 8.0
WS_EARLIEST = 0.7


def time_to_close(conn, since):
    """Seconds from `since` until the balancer closes `conn` (None: still open after LATEST)."""
    if not conn.wait_closed(LATEST + 1 - (time.monotonic() - since)):
        return None
    return time.monotonic() - since


def expect_closed_in_window(h, elapsed, what):
    if h.expect(elapsed is not None, f"{what}: still open {LATEST + 1:g} s later"):
        h.expect(EARLIEST <= elapsed <= LATEST,
                 f"{what}: closed after {elapsed:.2f}s (expected {EARLIEST}-{LATEST} s)")


def expect_nothing_or_408(h, data, what):
    """What a timed-out client may receive before the close: nothing, or a 408 JSON."""
    if not data:
        return
    try:
        resp, _ = parse_response(data, closed=True)
    except Exception:  # noqa: BLE001 - reported below
        resp = None
    if h.expect(resp is not None, f"{what}: unparsable bytes before the close: {data[:200]!r}"):
        h.expect_error_json(resp, 408, what)


class FullBacklog:
    """A listening port whose accept queue is full and never drained: the kernel drops further
    SYNs, so a connect to it hangs (a black hole, on loopback)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(s)
        time.sleep(0.1)

    def connect_hangs(self):
        with socket.socket() as s:
            s.settimeout(1.0)
            try:
                s.connect(("127.0.0.1", self.port))
                return False
            except socket.timeout:
                return True
            except OSError:
                return False

    def close(self):
        for s in self.fillers:
            s.close()
        self.listener.close()


def test(h):
    backend = h.backend("a")
    ws = h.ws_backend("ws")
    port = free_port()
    lb = h.balancer(f"""\
workers: 1
shutdown_timeout: 2s
{TIMEOUTS}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{backend.port} }}
    request_timeout: 5s
  ws:
    backends:
      - {{ address: 127.0.0.1:{ws.port} }}
    request_timeout: 500ms
routes:
  - match: {{ path_prefix: /ws }}
    upstream: ws
  - match: {{ path_prefix: / }}
    upstream: app
""", port)

    with h.step("a connection that sends nothing is closed after client_header (1 s)"):
        start = time.monotonic()
        conn = lb.raw()
        elapsed = time_to_close(conn, start)
        expect_closed_in_window(h, elapsed, "silent connection")
        expect_nothing_or_408(h, conn.buf, "silent connection")
        conn.close()

    with h.step("half a header section, then nothing: 408 JSON or nothing, closed after 1 s"):
        start = time.monotonic()
        conn = lb.raw()
        conn.send(b"GET /half HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        elapsed = time_to_close(conn, start)
        expect_closed_in_window(h, elapsed, "half headers")
        expect_nothing_or_408(h, conn.buf, "half headers")
        print(f"   closed after {elapsed or 0:.2f}s; received {conn.buf[:60]!r}")
        conn.close()

    with h.step("slowloris: a header byte every 200 ms does not keep the connection open"):
        start = time.monotonic()
        conn = lb.raw()
        conn.send(b"GET /loris HTTP/1.1\r\nHost: x\r\n")
        elapsed = None
        while time.monotonic() - start < LATEST + 1:
            try:
                conn.send(b"X")
            except OSError:
                conn.closed = True
            if conn.closed or conn.wait_closed(0.2):
                elapsed = time.monotonic() - start
                break
        expect_closed_in_window(h, elapsed, "slowloris")
        conn.close()

    with h.step("an idle keep-alive connection is closed after client_idle (1 s)"):
        conn = lb.raw()
        start = time.monotonic()  # before the answer that starts the idle time
        conn.send(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
        r = conn.read_response(5)
        h.expect_eq(r.status, 200, "status")
        elapsed = time_to_close(conn, start)
        expect_closed_in_window(h, elapsed, "idle keep-alive")
        h.expect_eq(conn.buf, b"", "bytes sent before closing an idle connection")
        conn.close()

    with h.step("a keep-alive client asking every 200 ms for 2.5 s is not cut"):
        conn = lb.raw()
        start = time.monotonic()
        statuses = []
        while time.monotonic() - start < 2.5 or len(statuses) < 5:
            conn.send(b"GET /steady HTTP/1.1\r\nHost: x\r\n\r\n")
            statuses.append(conn.read_response(5).status)
            time.sleep(0.2)
        h.expect(set(statuses) == {200}, f"statuses: {statuses}")
        conn.close()

    with h.step("a request the backend takes 1.5 s to answer is not cut by the client "
                "timeouts"):
        r = lb.get("/slow?ms=1500", timeout=10)
        h.expect_eq(r.status, 200, f"status (body {r.body[:200]!r})")

    def ws_client(interval_ms, duration_ms):
        res = subprocess.run([NODE, str(HERE / "ws_idle_client.js"),
                              "--url", f"ws://127.0.0.1:{port}/ws/idle",
                              "--interval-ms", str(interval_ms), "--duration-ms", str(duration_ms),
                              "--timeout-ms", str(duration_ms + (LATEST + 4) * 1000)],
                             capture_output=True, text=True, timeout=30, cwd=str(HERE))
        try:
            return json.loads(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"no report from ws_idle_client (exit {res.returncode}, "
                               f"stderr {res.stderr[-500:]!r})")

    with h.step("WebSocket: traffic every 200 ms for 2 s keeps the tunnel open (request_timeout "
                "500ms and tunnel_idle 1s notwithstanding), then 1 s of silence closes it"):
        report = ws_client(200, 2000)
        print(f"   {report}")
        h.expect(not report["closed_while_talking"],
                 f"tunnel closed while messages flowed: {report}")
        h.expect(report["sent"] >= 4 and report["echoed"] == report["sent"],
                 f"messages sent/echoed: {report}")
        # silent_ms counts from the client's last byte, a little after the balancer's.
        h.expect(report["close_code"] is not None and report["silent_ms"] is not None
                 and WS_EARLIEST <= report["silent_ms"] / 1000 <= LATEST,
                 f"closed by the balancer after silent_ms of silence (expected {WS_EARLIEST}-"
                 f"{LATEST} s): {report}")

    with h.step("WebSocket silent from the start: closed after about 1 s"):
        report = ws_client(10, 0)                # stops talking before the first message
        print(f"   {report}")
        silent = (report["silent_ms"] or 0) / 1000
        h.expect(report["close_code"] is not None and WS_EARLIEST <= silent <= LATEST,
                 f"closed after {silent:.2f}s of silence (expected {WS_EARLIEST}-{LATEST} s): "
                 f"{report}")

    hole = FullBacklog()
    h.cleanups.append(hole.close)
    # Linux drops a SYN to a listener whose accept queue is full, whatever its sysctls: the
    # connect hangs. If it does not, the steps below would test nothing: fail.
    if not h.expect(hole.connect_hangs(), "a connect to a full-backlog port hangs (the black "
                                          "hole that connect_timeout is tested against)"):
        return

    port2 = free_port()
    good = h.backend("good")
    # request_timeout far above connect_timeout: a 504 well before it is connect_timeout's.
    config = simple_config(port2, [hole.port], connect_timeout="500ms", retries=0,
                           request_timeout="30s")
    config += f"""\
  - match: {{ path_prefix: /fallback }}
    upstream: fallback
"""
    config = config.replace("routes:", f"""\
  fallback:
    backends:
      - {{ address: 127.0.0.1:{hole.port}, weight: 1 }}
      - {{ address: 127.0.0.1:{good.port}, weight: 1 }}
    connect_timeout: 500ms
    retries: 1
routes:""")
    lb2 = h.balancer(config, port2)

    with h.step("connect_timeout 500ms to a port that never completes the handshake: 504 JSON "
                f"after 0.5 s, well before request_timeout (30 s)"):
        r = lb2.get("/black-hole", timeout=40)
        h.expect_error_json(r, 504, "GET to the black hole")
        h.expect(0.45 <= r.elapsed <= LATEST,
                 f"answer after {r.elapsed:.2f}s (expected 0.45-{LATEST:g} s)")

    with h.step("with a second, good backend and retries: 1 every GET succeeds"):
        results = [(r.status, r.header("X-Backend"))
                   for r in (lb2.get(f"/fallback/{i}", timeout=10) for i in range(6))]
        h.expect_eq(results, [(200, "good")] * 6, "(status, backend) of 6 GETs")


if __name__ == "__main__":
    run(test)
