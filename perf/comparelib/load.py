"""The load: wrk, pinned to the client core, with perf/wrk/stats.lua printing a
machine-readable summary (exact percentiles, a latency curve). Every run is bounded in time:
wrk stops itself after its duration, and is killed (by its pid) if it overruns by far.

A scenario names its load generator in LoadSpec.tool; another one (h2load for HTTP/2 and
gRPC) is a function next to run_wrk with the same arguments and result keys, added to
RUNNERS."""
import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from . import WRK_DIR

WRK_LUA = os.path.join(WRK_DIR, "stats.lua")
OVERRUN_S = 30      # beyond its duration and --timeout, wrk is stuck: killed


@dataclass
class LoadSpec:
    """What wrk sends in one run."""
    path: str                 # the request target
    tls: bool = False         # https://
    headers: tuple = ()       # extra request headers, "Name: value"
    script: str = WRK_LUA     # its Lua script (the summary comes from stats.lua)
    env: dict = None          # its environment (None: ours)
    tool: str = "wrk"         # the load generator, a key of RUNNERS
    error: str = None         # the load cannot run (its set-up failed): the row's error


def run_wrk(spec, port, conns, seconds, out, core, threads, timeout):
    """One wrk run against 127.0.0.1:port, its output in `out`. Returns (figures, None) or
    (None, error). Figures: stats.lua's summary, plus wrk's own CPU and the wall time, and
    for the TLS shim the handshakes it made and resumed."""
    if spec.error:
        return None, spec.error
    argv = ["taskset", "-c", core, "wrk", "-t", str(threads), "-c", str(conns),
            "-d", f"{seconds}s", "--timeout", f"{timeout}s", "--latency", "-s", spec.script]
    for h in spec.headers:
        argv += ["-H", h]
    argv.append(f"{'https' if spec.tls else 'http'}://127.0.0.1:{port}{spec.path}")
    with open(out, "wb") as f:
        t0 = time.time()
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=spec.env)
        watchdog = threading.Timer(seconds + timeout + OVERRUN_S, _kill, (p.pid,))
        watchdog.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except ChildProcessError:
            status, ru = 0, None
        finally:
            watchdog.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.time() - t0
    with open(out, errors="replace") as f:
        text = f.read()
    m = re.search(r"PERFJSON (\{.*\})", text)
    if not m:
        return None, f"wrk failed (exit {p.returncode}): {text.strip()[-300:]}"
    res = json.loads(m.group(1))
    m = re.search(r"PERFTLS (\{.*\})", text)
    if m:   # the handshake scenarios' shim: connections closed by wrk, resumed ones
        t = json.loads(m.group(1))
        res["tls_handshakes"], res["tls_resumed"] = t["handshakes"], t["resumed"]
    res["wrk_cpu_s"] = (ru.ru_utime + ru.ru_stime) if ru else None
    res["wrk_utime_s"] = ru.ru_utime if ru else None
    res["wall_s"] = wall
    return res, None


def run(spec, **kwargs):
    """One run of the spec's load generator; see run_wrk."""
    return RUNNERS[spec.tool](spec, **kwargs)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)    # our own child, not yet reaped: the pid is still its
    except ProcessLookupError:
        pass


RUNNERS = {"wrk": run_wrk}
