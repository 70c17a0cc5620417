#!/usr/bin/env python3
"""Under load: wrk with 200 connections for 3 s through the balancer (workers: 2) to a fast node
backend gets no socket error and no error status; SIGTERM in the middle of a run drains and
exits 0 without failing the requests in flight."""
import re
import shutil
import signal
import subprocess
import time

from harness import free_port, run, simple_config

SHUTDOWN_TIMEOUT = 3.0


def wrk(port, seconds, connections=200):
    """Starts wrk (one thread; its own timeout generous: the machine is shared)."""
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                             f"http://127.0.0.1:{port}/load"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def summary(output):
    """{requests, connect, read, write, timeout, non_2xx_3xx} from wrk's report."""
    out = {"requests": None, "connect": 0, "read": 0, "write": 0, "timeout": 0,
           "non_2xx_3xx": 0}
    m = re.search(r"(\d+) requests in", output)
    if m:
        out["requests"] = int(m[1])
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        out.update(connect=int(m[1]), read=int(m[2]), write=int(m[3]), timeout=int(m[4]))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if m:
        out["non_2xx_3xx"] = int(m[1])
    return out


def test(h):
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (scripts/setup installs it)")
    fast = h.ws_backend("fast")     # ws_server.js answers plain HTTP requests with 200 at once
    port = free_port()
    lb = h.balancer(simple_config(port, [fast.port], workers=2,
                                  shutdown_timeout=f"{SHUTDOWN_TIMEOUT:g}s"), port)

    with h.step("wrk -t1 -c200 -d3s: no socket errors, no error statuses"):
        proc = wrk(port, 3)
        output, _ = proc.communicate(timeout=30)
        s = summary(output)
        print(f"   {s}")
        h.expect(s["requests"] and s["requests"] > 1000,
                 f"requests completed: {s['requests']}; wrk said:\n{output}")
        errors = {k: s[k] for k in ("connect", "read", "write", "timeout", "non_2xx_3xx")}
        h.expect_eq(errors, dict.fromkeys(errors, 0), f"wrk errors; wrk said:\n{output}")

    with h.step("SIGTERM 1.5 s into a wrk run: exit 0 within shutdown_timeout, no error "
                "statuses"):
        proc = wrk(port, 4)
        time.sleep(1.5)
        lb.stopped = True                  # stopped by this test, not by the harness
        sigterm_at = time.monotonic()
        lb.proc.send_signal(signal.SIGTERM)
        code = lb.wait_exit(SHUTDOWN_TIMEOUT + 5)
        exited_after = time.monotonic() - sigterm_at
        output, _ = proc.communicate(timeout=30)
        s = summary(output)
        print(f"   exit {code} after {exited_after:.2f}s; wrk: {s}")
        h.expect_eq(code, 0, "exit code after SIGTERM")
        h.expect(exited_after < SHUTDOWN_TIMEOUT + 2,
                 f"exited {exited_after:.2f}s after SIGTERM (shutdown_timeout "
                 f"{SHUTDOWN_TIMEOUT:g}s)")
        # Connections refused or closed after the drain are expected; error answers are not.
        h.expect_eq(s["non_2xx_3xx"], 0, f"error statuses during the drain; wrk said:\n{output}")
        if code is None:
            lb.kill()


if __name__ == "__main__":
    run(test)
