#!/usr/bin/env python3
"""least_conn and p2c count in-flight requests across workers (README "Which balancing
policy"): with `workers: 2`, a slow request held open by one worker steers the other worker's
new requests to the other backend.

To know which worker serves a connection, each worker takes at most one connection
(`limits.max_connections_per_worker: 1`, past it a connection is closed at once): while worker
X holds the slow request, every connection that gets an answer was served by worker Y. With
counts per worker instead of shared, Y would see two idle backends and send about half of its
requests to the busy one."""
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for

QUICK = 12  # quick requests per phase; a per-worker count would send ~6 of them astray


class GateBackend:
    """An origin in this process: `/hold` answers once release() is called (so a held request
    ends when the test says, not after a guessed delay), anything else at once. Every answer
    carries `X-Backend: NAME`."""

    def __init__(self, h, name):
        self.name = name
        self.gate = threading.Event()
        gate = self.gate

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path.startswith("/hold"):
                    gate.wait(60)
                body = b"ok"
                self.send_response(200)
                self.send_header("X-Backend", name)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        h.cleanups.append(self.close)

    def release(self):
        self.gate.set()

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


class Setup:
    def __init__(self, h, balance):
        self.h = h
        self.a, self.b = GateBackend(h, f"{balance}-a"), GateBackend(h, f"{balance}-b")
        self.port, self.admin_port = free_port(), free_port()
        extra = (f"admin: {{ address: 127.0.0.1:{self.admin_port} }}\n"
                 "limits: { max_connections_per_worker: 1 }")
        self.lb = h.balancer(simple_config(self.port, [self.a.port, self.b.port], workers=2,
                                           balance=balance, request_timeout="90s", retries=0,
                                           extra_top=extra), self.port)
        h.expect(wait_for(lambda: port_accepts(self.admin_port), 5), "admin port listening")
        self.names = {f"127.0.0.1:{self.a.port}": self.a.name,
                      f"127.0.0.1:{self.b.port}": self.b.name}

    def in_flight(self):
        """{backend name: in-flight requests} from GET /upstreams (the shared counts)."""
        r = http_request(self.admin_port, "GET", "/upstreams", timeout=5)
        backends = json.loads(r.body)["upstreams"][0]["backends"]
        return {self.names[b["address"]]: b["in_flight"] for b in backends}

    def hold(self, n):
        """Opens a connection whose request the backend holds (/hold), retrying while the
        worker it reaches is full. Returns (socket, backend name) once the request is in
        flight, which makes `n` requests in flight in all."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            before = self.in_flight()
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = False
            got = None

            def settled():
                nonlocal refused, got
                s.settimeout(0.05)
                try:
                    refused = s.recv(1) == b""  # a full worker closes at once
                except socket.timeout:
                    pass
                except OSError:
                    refused = True
                if refused:
                    return True
                now = self.in_flight()
                grown = [k for k in now if now[k] > before[k]]
                if sum(now.values()) >= n and grown:
                    got = grown[0]
                return got is not None

            wait_for(settled, 10)
            if got is not None:
                return s, got
            s.close()
            if not refused:
                raise AssertionError(f"held request #{n} neither refused nor in flight "
                                     f"({self.in_flight()})")
        raise AssertionError(f"could not place held request #{n} within 30 s")

    def quick(self, n, tag):
        """`n` quick requests, each on a new connection; connections closed at once by a full
        worker are retried. Returns ([X-Backend of each answer], connections refused)."""
        seen, refused = [], 0
        deadline = time.monotonic() + 40
        i = 0
        while len(seen) < n and time.monotonic() < deadline and refused < 2000:
            i += 1
            try:
                r = http_request(self.port, "GET", f"/{tag}/{i}",
                                 headers={"Connection": "close"}, timeout=10)
            except (ConnectionError, http.client.HTTPException):
                refused += 1
                continue
            self.h.expect_eq(r.status, 200, f"status of quick request {tag}/{i}")
            seen.append(r.header("X-Backend"))
        return seen, refused


def check_policy(h, balance):
    s = Setup(h, balance)
    other = {s.a.name: s.b.name, s.b.name: s.a.name}
    backends = {s.a.name: s.a, s.b.name: s.b}
    held = []

    with h.step(f"{balance}: a slow request held by worker X; worker Y's new requests all "
                f"go to the other backend"):
        sock1, busy = s.hold(1)
        held.append(sock1)
        seen, refused = s.quick(QUICK, "y")
        print(f"   held on {busy}; worker Y answered {seen} ({refused} refused by X)")
        h.expect_eq(len(seen), QUICK, "quick requests answered")
        h.expect_eq(seen, [other[busy]] * len(seen), "backends of Y's requests")
        # The admin API reads the counts from another thread: the last quick request's
        # release may land just after its answer, so the counts are waited for.
        want = {busy: 1, other[busy]: 0}
        h.expect(wait_for(lambda: s.in_flight() == want, 5),
                 f"in-flight after the phase: {s.in_flight()}, expected {want}")

    with h.step(f"{balance}: a second slow request (worker Y, X is full) goes to the idle "
                f"backend"):
        sock2, second = s.hold(2)
        held.append(sock2)
        h.expect_eq(second, other[busy], "backend of the second held request")

    with h.step(f"{balance}: X's request ends; X's new requests all avoid Y's busy backend"):
        backends[busy].release()
        sock1.settimeout(10)
        h.expect(sock1.recv(4096).startswith(b"HTTP/1.1 200"), "the held request's answer")
        sock1.close()
        h.expect(wait_for(lambda: s.in_flight()[busy] == 0, 10),
                 f"the ended request's in-flight count drops ({s.in_flight()})")
        seen, refused = s.quick(QUICK, "x")
        print(f"   held on {second}; worker X answered {seen} ({refused} refused by Y)")
        h.expect_eq(len(seen), QUICK, "quick requests answered")
        h.expect_eq(seen, [other[second]] * len(seen), "backends of X's requests")

    for backend in backends.values():
        backend.release()
    for sock in held:
        sock.close()
    h.expect(wait_for(lambda: sum(s.in_flight().values()) == 0, 10),
             f"{balance}: no request in flight at the end ({s.in_flight()})")


def test(h):
    for balance in ("least_conn", "p2c"):
        check_policy(h, balance)


if __name__ == "__main__":
    run(test)
