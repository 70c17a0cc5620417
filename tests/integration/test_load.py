#!/usr/bin/env python3
"""Under load: wrk with 200 connections for 3 s through the balancer (workers: 2) to a fast node
backend gets no socket error and no error status; SIGTERM in the middle of a run drains and
exits 0 without failing the requests in flight: every request the balancer began (each is one
access log line, 499 when cut) was answered 200 and reached wrk whole."""
import collections
import json
import re
import shutil
import signal
import subprocess
import time

from harness import run, simple_config

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
    lb = h.balancer(simple_config(0, [fast.port], workers=2,
                                  shutdown_timeout=f"{SHUTDOWN_TIMEOUT:g}s"))

    with h.step("wrk -t1 -c200 -d3s: no socket errors, no error statuses"):
        proc = wrk(lb.port, 3)
        output, _ = proc.communicate(timeout=30)
        s = summary(output)
        print(f"   {s}")
        h.expect(s["requests"] and s["requests"] > 1000,
                 f"requests completed: {s['requests']}; wrk said:\n{output}")
        errors = {k: s[k] for k in ("connect", "read", "write", "timeout", "non_2xx_3xx")}
        h.expect_eq(errors, dict.fromkeys(errors, 0), f"wrk errors; wrk said:\n{output}")

    with h.step("SIGTERM 1.5 s into a wrk run: exit 0 within shutdown_timeout; every request "
                "the balancer began is answered 200 and reaches the client"):
        lb.stopped = True                  # the first balancer's run is over
        lb.terminate()
        # A second balancer with an access log: one line per request it began.
        log_path = h.dir / "access.log"
        lb2 = h.balancer(simple_config(0, [fast.port], workers=2,
                                       shutdown_timeout=f"{SHUTDOWN_TIMEOUT:g}s",
                                       extra_top=f"access_log: {{ path: {log_path}, "
                                                 f"format: json }}"))
        proc = wrk(lb2.port, 4)
        time.sleep(1.5)
        lb2.stopped = True                 # stopped by this test, not by the harness
        sigterm_at = time.monotonic()
        lb2.proc.send_signal(signal.SIGTERM)
        code = lb2.wait_exit(SHUTDOWN_TIMEOUT + 5)
        exited_after = time.monotonic() - sigterm_at
        output, _ = proc.communicate(timeout=30)
        s = summary(output)
        lines = [l for l in log_path.read_text().split("\n") if l] if log_path.exists() else []
        statuses = collections.Counter(json.loads(l)["status"] for l in lines)
        print(f"   exit {code} after {exited_after:.2f}s; wrk: {s}; access log: {dict(statuses)}")
        h.expect_eq(code, 0, "exit code after SIGTERM")
        # The shutdown timer ends a drain at shutdown_timeout; a hung exit goes well past it.
        h.expect(exited_after < SHUTDOWN_TIMEOUT + 3,
                 f"exited {exited_after:.2f}s after SIGTERM (shutdown_timeout "
                 f"{SHUTDOWN_TIMEOUT:g}s)")
        h.expect(s["requests"] and len(lines) > 0,
                 f"SIGTERM came during the load: wrk completed {s['requests']}, "
                 f"access log lines {len(lines)}")
        # At shutdown_timeout the balancer exits at once (_exit): what was in flight is cut and
        # not logged. It must not come to that with requests this short.
        h.expect("shutdown_timeout passed" not in lb2.log_text(),
                 "the drain finished every request in flight (no exit at shutdown_timeout)")
        h.expect_eq(s["non_2xx_3xx"], 0, f"error statuses during the drain; wrk said:\n{output}")
        h.expect_eq(s["timeout"], 0, f"wrk timeouts (requests left hanging); wrk said:\n{output}")
        # Requests in flight are those the balancer began; each one must be answered 200 and
        # read whole by wrk. (wrk's read/write errors are the requests it sent on connections
        # closed as idle, or refused once the listener closed: the balancer never saw those.)
        h.expect_eq(dict(statuses), {200: len(lines)}, "statuses of the requests it began")
        h.expect_eq(s["requests"], len(lines),
                    "responses wrk read whole vs requests the balancer began")
        if code is None:
            lb2.kill()


if __name__ == "__main__":
    run(test)
