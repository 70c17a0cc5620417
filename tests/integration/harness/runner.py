"""The test runner: a Harness per test file (temp dir, processes, expectations), run(test)."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .processes import Backend, Balancer, Blackhole, WsBackend
from .settings import BALANCER_BIN, HERE, NODE, STOP_TIMEOUT, TEST_DEADLINE

class TestDeadline(BaseException):
    """Raised by the watchdog alarm; a BaseException so that steps do not swallow it."""


class Harness:
    def __init__(self, name):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"lb-it-{name}-"))
        self.processes = []
        self.cleanups = []
        self.failures = []
        self.current_step = None
        self._balancers = 0

    # processes

    def backend(self, name, port=None, **options):
        b = Backend(self, name, port, **options)
        self.processes.append(b)
        return b

    def ws_backend(self, name):
        b = WsBackend(self, name)
        self.processes.append(b)
        return b

    def write(self, filename, text):
        path = self.dir / filename
        path.write_text(text)
        return path

    def balancer(self, config_text, port=None, binary=None):
        """Starts a balancer on `config_text`. `port`: its first listener's when the text names
        a fixed one; leave it out when the addresses say port 0 (simple_config(0, ...)).
        `binary`: another build's balancer (default BALANCER_BIN)."""
        binary = binary or BALANCER_BIN
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"balancer binary not found or not executable: {binary} "
                               f"(set BALANCER_BIN or build it)")
        self._balancers += 1
        path = self.write(f"balancer-{self._balancers}.yaml", config_text)
        lb = Balancer(self, path, port, self._balancers, binary)
        self.processes.append(lb)
        return lb

    def blackhole(self, port):
        b = Blackhole(port)
        self.cleanups.append(b.close)
        return b

    def node(self, script, *args, timeout=30):
        return subprocess.run([NODE, str(HERE / script), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, cwd=str(HERE), stdin=subprocess.DEVNULL)

    # expectations

    def fail(self, message):
        prefix = f"[{self.current_step}] " if self.current_step else ""
        self.failures.append(prefix + message)
        print(f"   FAIL: {message}", flush=True)

    def expect(self, condition, message):
        if not condition:
            self.fail(message)
        return bool(condition)

    def expect_eq(self, actual, expected, what):
        return self.expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def expect_error_json(self, resp, status, what):
        """An error answer of the balancer: the status, a JSON body {"error", "request_id"},
        and an X-Request-Id header equal to request_id."""
        if not self.expect_eq(resp.status, status, f"{what}: status (body {resp.body[:200]!r})"):
            return
        try:
            body = json.loads(resp.body)
        except ValueError:
            self.fail(f"{what}: body is not JSON: {resp.body[:200]!r}")
            return
        self.expect(isinstance(body, dict) and isinstance(body.get("error"), str)
                    and body.get("error"), f"{what}: JSON has no non-empty 'error': {body}")
        rid = body.get("request_id") if isinstance(body, dict) else None
        self.expect(isinstance(rid, str) and rid, f"{what}: JSON has no 'request_id': {body}")
        self.expect_eq(resp.header("X-Request-Id"), rid, f"{what}: X-Request-Id header vs body")

    @contextlib.contextmanager
    def step(self, title):
        """A named part of the test; an exception inside fails the step, not the whole file."""
        print(f"-- {title}", flush=True)
        self.current_step = title
        before = len(self.failures)
        try:
            yield
        except Exception as e:  # noqa: BLE001 - any error is a test failure
            self.fail(f"{type(e).__name__}: {e}")
            traceback.print_exc()
        finally:
            self.current_step = None
        print(f"   {'ok' if len(self.failures) == before else 'FAILED'}", flush=True)

    # teardown

    def close(self):
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        for p in reversed(self.processes):
            if isinstance(p, Balancer) and not p.stopped:
                self._stop_balancer(p)
            elif p.alive():
                p.terminate(timeout=3)
            p.close_log()

    def _stop_balancer(self, lb):
        if not lb.alive():
            lb.stopped = True
            self.failures.append(f"{lb.label} exited unexpectedly during the test with code "
                                 f"{lb.proc.returncode}")
            return
        start = time.monotonic()
        code, killed = lb.terminate()
        if killed:
            self.failures.append(f"{lb.label} did not exit within {STOP_TIMEOUT}s of SIGTERM "
                                 f"(killed)")
        elif code != 0:
            self.failures.append(f"{lb.label} exited with code {code} after SIGTERM "
                                 f"({time.monotonic() - start:.1f}s)")

    def report(self):
        if not self.failures:
            shutil.rmtree(self.dir, ignore_errors=True)
            print(f"PASS {self.name}")
            return 0
        print(f"\nFAIL {self.name}: {len(self.failures)} failure(s)")
        for f in self.failures:
            print(f"  - {f}")
        for p in self.processes:
            tail = p.log_tail(80 if isinstance(p, Balancer) else 15)
            if tail.strip():
                print(f"\n--- {p.label} (pid {p.pid}) log, last lines ({p.log_path}) ---\n{tail}")
        print(f"\n(logs kept in {self.dir})")
        return 1


def _deadline(signum, frame):
    raise TestDeadline(f"test exceeded its {TEST_DEADLINE}s deadline")


def run(test, deadline=TEST_DEADLINE):
    """Runs `test(harness)` and exits the process with 0 (pass) or 1 (fail)."""
    name = Path(sys.argv[0]).stem.removeprefix("test_")
    h = Harness(name)
    print(f"== {name} (balancer: {BALANCER_BIN})", flush=True)
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(deadline)
    try:
        test(h)
    except BaseException as e:  # noqa: BLE001
        h.failures.append(f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, _deadline)
        h.close()
    sys.exit(h.report())
