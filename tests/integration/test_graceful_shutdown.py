#!/usr/bin/env python3
"""SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0 before shutdown_timeout."""
import signal
import threading
import time

from harness import connect_refused, free_port, run, simple_config

SHUTDOWN_TIMEOUT = 5.0


def start_balancer(h, backend, workers=2):
    port = free_port()
    return h.balancer(simple_config(port, [backend.port], workers=workers,
                                    shutdown_timeout=f"{SHUTDOWN_TIMEOUT:g}s"), port)


def test(h):
    backend = h.backend("a")

    with h.step("SIGTERM during a 1.5 s request: it completes, new connections are refused, "
                "exit 0"):
        lb = start_balancer(h, backend)
        result = {}

        def slow_request():
            try:
                result["response"] = lb.get("/slow?ms=1500", timeout=10)
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e

        client = threading.Thread(target=slow_request)
        client.start()
        time.sleep(0.3)
        lb.stopped = True                  # stopped by this test, not by the harness
        sigterm_at = time.monotonic()
        lb.proc.send_signal(signal.SIGTERM)

        refused_after = None
        while time.monotonic() - sigterm_at < 0.8 and lb.alive():
            if connect_refused(lb.port):
                refused_after = time.monotonic() - sigterm_at
                break
            time.sleep(0.02)
        if h.expect(refused_after is not None,
                    "new connections still accepted 0.8 s after SIGTERM"):
            print(f"   connect refused {refused_after:.2f}s after SIGTERM")
            accepted = sum(not connect_refused(lb.port) for _ in range(20))
            h.expect_eq(accepted, 0, "of 20 later connection attempts, accepted")
            h.expect(lb.alive(), "the balancer exited before its in-flight request finished")

        client.join(timeout=10)
        r = result.get("response")
        h.expect(r is not None and r.status == 200,
                 f"in-flight request: {r or result.get('error')!r}")
        code = lb.wait_exit(SHUTDOWN_TIMEOUT + 3)
        exited_after = time.monotonic() - sigterm_at
        h.expect_eq(code, 0, "exit code after SIGTERM")
        h.expect(exited_after < SHUTDOWN_TIMEOUT,
                 f"exited {exited_after:.2f}s after SIGTERM (shutdown_timeout "
                 f"{SHUTDOWN_TIMEOUT:g}s, the request ended at ~1.2 s)")
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
        h.expect(exited_after < SHUTDOWN_TIMEOUT - 2,
                 f"exited {exited_after:.2f}s after SIGTERM with only an idle connection open")
        conn.close()
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
        h.expect(time.monotonic() - sigint_at < 2.0,
                 f"exited {time.monotonic() - sigint_at:.2f}s after SIGINT with nothing in flight")
        if code is None:
            lb.kill()


if __name__ == "__main__":
    run(test)
