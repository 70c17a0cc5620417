#!/usr/bin/env python3
"""SIGTERM/SIGINT: stop accepting (while the in-flight request still runs), finish in-flight
requests, exit 0 once they are done, not at shutdown_timeout."""
import json
import signal
import socket
import threading
import time

from harness import connect_refused, run, simple_config, wait_for

SHUTDOWN_TIMEOUT = 20.0
SLOW_MS = 3000          # the request in flight at SIGTERM
# An exit "once nothing is left" comes well before the timeout: far from it, for a loaded machine.
EARLY_EXIT = SHUTDOWN_TIMEOUT / 2


def start_balancer(h, backend, workers=2):
    return h.balancer(simple_config(0, [backend.port], workers=workers,
                                    shutdown_timeout=f"{SHUTDOWN_TIMEOUT:g}s"))


def test(h):
    backend = h.backend("a")

    with h.step(f"SIGTERM during a {SLOW_MS / 1000:g} s request: new connections are refused "
                "while it runs, it completes, then exit 0"):
        lb = start_balancer(h, backend)
        result = {}
        slow_before = backend.stats()["by_path"].get("GET /slow", 0)

        def slow_request():
            try:
                result["response"] = lb.get(f"/slow?ms={SLOW_MS}", timeout=SHUTDOWN_TIMEOUT + 10)
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e

        client = threading.Thread(target=slow_request)
        client.start()
        # SIGTERM once the request is at the backend: in flight.
        h.expect(wait_for(lambda: backend.stats()["by_path"].get("GET /slow", 0) > slow_before,
                          10), "the slow request reached the backend")
        lb.stopped = True                  # stopped by this test, not by the harness
        sigterm_at = time.monotonic()
        lb.proc.send_signal(signal.SIGTERM)

        # Order of events: the listener closes while the request is still in flight.
        refused = False
        while client.is_alive() and lb.alive():
            if connect_refused(lb.port):
                refused = True
                break
            time.sleep(0.02)
        in_flight_then = client.is_alive()
        if h.expect(refused and in_flight_then,
                    f"connections refused while the in-flight request still ran (refused "
                    f"{refused}, request still running {in_flight_then})"):
            print(f"   connect refused {time.monotonic() - sigterm_at:.2f}s after SIGTERM")
            accepted = sum(not connect_refused(lb.port) for _ in range(20))
            h.expect_eq(accepted, 0, "of 20 later connection attempts, accepted")

        client.join(timeout=SHUTDOWN_TIMEOUT + 10)
        r = result.get("response")
        h.expect(r is not None and r.status == 200,
                 f"in-flight request: {r or result.get('error')!r}")
        code = lb.wait_exit(SHUTDOWN_TIMEOUT + 3)
        exited_after = time.monotonic() - sigterm_at
        h.expect_eq(code, 0, "exit code after SIGTERM")
        # Done once the request is: not held until shutdown_timeout.
        h.expect(exited_after < EARLY_EXIT,
                 f"exited {exited_after:.2f}s after SIGTERM (shutdown_timeout "
                 f"{SHUTDOWN_TIMEOUT:g}s, the request ended ~{SLOW_MS / 1000:g} s after it "
                 f"began)")
        if code is None:
            lb.kill()

    with h.step("an idle keep-alive client does not hold up the exit"):
        lb = start_balancer(h, backend)
        conn = lb.connection(timeout=5)
        conn.request("GET", "/idle")
        conn.getresponse().read()
        lb.stopped = True
        sigterm_at = time.monotonic()
        lb.proc.send_signal(signal.SIGTERM)
        code = lb.wait_exit(SHUTDOWN_TIMEOUT + 3)
        exited_after = time.monotonic() - sigterm_at
        h.expect_eq(code, 0, "exit code after SIGTERM")
        h.expect(exited_after < EARLY_EXIT,
                 f"exited {exited_after:.2f}s after SIGTERM with only an idle connection open "
                 f"(shutdown_timeout {SHUTDOWN_TIMEOUT:g}s)")
        conn.close()
        if code is None:
            lb.kill()

    with h.step("shutdown_timeout passes with a request in flight: its connection is closed, "
                "its access log line written (503), exit 0"):
        log = h.dir / "timeout-access.log"
        lb = h.balancer(simple_config(0, [backend.port], workers=2, shutdown_timeout="1s",
                                      request_timeout="60s",
                                      extra_top=f"access_log: {{ path: {log} }}"))
        s = socket.create_connection(("127.0.0.1", lb.port), timeout=10)
        slow_before = backend.stats()["by_path"].get("GET /slow", 0)
        s.sendall(b"GET /slow?ms=30000 HTTP/1.1\r\nHost: x\r\nX-Request-Id: cut-1\r\n\r\n")
        h.expect(wait_for(lambda: backend.stats()["by_path"].get("GET /slow", 0) > slow_before,
                          10), "the slow request reached the backend")
        lb.stopped = True
        sigterm_at = time.monotonic()
        lb.proc.send_signal(signal.SIGTERM)
        code = lb.wait_exit(10)
        exited_after = time.monotonic() - sigterm_at
        h.expect_eq(code, 0, "exit code after shutdown_timeout")
        h.expect(0.9 < exited_after < 5, f"exited {exited_after:.2f}s after SIGTERM "
                 "(shutdown_timeout 1s)")
        try:
            rest = s.recv(1024)
        except ConnectionResetError:
            rest = b""
        h.expect_eq(rest, b"", "the client's connection was closed without an answer")
        s.close()
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()] \
            if log.exists() else []
        cut = [x for x in lines if x.get("request_id") == "cut-1"]
        h.expect_eq([x.get("status") for x in cut], [503],
                    f"access log lines for the cut request ({lines})")
        if code is None:
            lb.kill()

    with h.step("SIGINT: exit 0"):
        lb = start_balancer(h, backend, workers=1)
        h.expect_eq(lb.get("/before").status, 200, "status before SIGINT")
        lb.stopped = True
        sigint_at = time.monotonic()
        lb.proc.send_signal(signal.SIGINT)
        code = lb.wait_exit(SHUTDOWN_TIMEOUT + 3)
        h.expect_eq(code, 0, "exit code after SIGINT")
        exited_after = time.monotonic() - sigint_at
        h.expect(exited_after < EARLY_EXIT,
                 f"exited {exited_after:.2f}s after SIGINT with nothing in flight "
                 f"(shutdown_timeout {SHUTDOWN_TIMEOUT:g}s)")
        if code is None:
            lb.kill()


if __name__ == "__main__":
    run(test)
