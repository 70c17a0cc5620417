"""Helpers for the balancer integration tests (Python standard library only).

A test is a function taking a Harness; `run(test)` gives it a temp dir, a deadline, cleanup of
every process it started (by pid), and a report: exit 0 when every expectation held, 1 otherwise,
printing each failure and the tail of the balancer and backend logs.

    def test(h):
        backend = h.backend("a")
        lb = h.balancer(simple_config(0, [backend.port]))
        with h.step("GET is proxied"):
            r = lb.get("/headers")
            h.expect_eq(r.status, 200, "status")

    if __name__ == "__main__":
        run(test)

Ports: servers the harness starts bind port 0 and report the port the kernel gave them
(Backend.port, WsBackend.port; for a balancer started without a port, Balancer.port is its first
listener's, Balancer.ports every listener's by name and Balancer.admin_port the admin API's, as
its log says). No probe-then-bind race when tests run in parallel (ctest -j), and the ports are
odd ones in the ephemeral range, where Linux never puts an outgoing connection's local port
while even ones are free. free_port() is for a port that must be known before anything binds it
(a backend started after the balancer's configuration names it, a port nothing listens on).
"""
import atexit
import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

import launch  # noqa: E402  (scripts/launch: one way to start and stop processes)
BALANCER_BIN = os.environ.get("BALANCER_BIN") or str(REPO / "build" / "bin" / "balancer")
PYTHON = sys.executable or "python3"
NODE = shutil.which("node") or "node"

START_TIMEOUT = 10.0     # seconds for a process to accept on its port (ASan builds start slower)
STOP_TIMEOUT = 8.0       # seconds after SIGTERM before SIGKILL
TEST_DEADLINE = 100      # seconds for a whole test file (ctest kills at 120)


class TestDeadline(BaseException):
    """Raised by the watchdog alarm; a BaseException so that steps do not swallow it."""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- ports ----------------------------------------------------------------------------------

_given_ports = set()
# One file per port free_port() gave, holding the pid of the test that has it: two tests run
# in parallel (ctest -j) never get the same port between the probe and the bind.
_PORT_CLAIMS = Path(tempfile.gettempdir()) / "lb-it-port-claims"
_claimed_paths = []


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _claim_port(port):
    """True when this process now holds the claim file of `port` (a dead owner's is taken)."""
    path = _PORT_CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = path.read_text().strip()
            except OSError:
                return False
            if not owner.isdigit() or _pid_alive(int(owner)):
                return False  # held, or being written by its owner right now
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        except OSError:
            return True  # no claims possible here (another user's folder): the probe only
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        _claimed_paths.append(path)
        return True
    return False


def _release_claims():
    for path in _claimed_paths:
        with contextlib.suppress(OSError):
            path.unlink()


def free_port():
    """A free loopback port for a port that must be known before a server binds it (servers
    the harness starts bind port 0 instead). Chosen below the ephemeral range so that outgoing
    connections (balancer -> backend) cannot take it between now and the moment a server binds
    it, and claimed (a file per port) so that another test running in parallel does not pick
    it too; the claims go when this process exits."""
    if not _PORT_CLAIMS.is_dir():
        with contextlib.suppress(OSError):
            _PORT_CLAIMS.mkdir()
            _PORT_CLAIMS.chmod(0o1777)  # shared by every user's tests, as /tmp is
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _given_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _claim_port(port):
            continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port found")


atexit.register(_release_claims)


def wait_for(predicate, timeout, interval=0.05):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


port_accepts = launch.port_accepts


def connect_refused(port):
    """True when a TCP connect to the port is refused (nothing listening)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# --- processes ------------------------------------------------------------------------------

class Process(launch.Child):
    """A child process with its output in a log file; stopped by pid only (scripts/launch).
    `proc` is its subprocess.Popen."""

    def __init__(self, label, argv, log_path):
        super().__init__(launch.Process(name=label, argv=argv, log=log_path, cwd=HERE))
        self.label = label
        self.stopped = False  # set once stopped on purpose

    def wait_port(self, port, timeout=START_TIMEOUT):
        self._wait(launch.PortAccepts(port), timeout)

    def wait_log(self, pattern, timeout=START_TIMEOUT):
        """The first match of the regular expression `pattern` (per line) in the log, waiting
        up to `timeout` seconds for it; raises if the process exits first or it never comes."""
        return self._wait(launch.LogLine(pattern), timeout)

    def _wait(self, check, timeout):
        try:
            return self.wait_ready(check, timeout)
        except launch.StartError as e:
            raise RuntimeError(f"{self.label} {e.reason}:\n{self.log_tail()}") from None

    def kill(self):
        """SIGKILL, as a crash would."""
        self.stopped = True
        super().kill()

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after `timeout`. Returns (exit code, needed SIGKILL)."""
        self.stopped = True
        return super().terminate(timeout)


class Backend(Process):
    """tests/integration/backend.py as a subprocess. `options` become its command-line flags:
    max_requests_per_conn=3 -> --max-requests-per-conn 3."""

    def __init__(self, harness, name, port=None, **options):
        self.name = name
        flags = []
        for key, value in options.items():
            flags += ["--" + key.replace("_", "-"), value]
        # Without a port: port 0, and the port it got is read from its log.
        log_name = f"backend-{name}-{port}.log" if port else \
            f"backend-{name}-{len(harness.processes)}.log"
        super().__init__(f"backend {name}", [PYTHON, HERE / "backend.py", "--port", port or 0,
                                             "--name", name, *flags],
                         harness.dir / log_name)
        self.port = port or int(self.wait_log(
            rf"^backend {re.escape(name)} listening on 127\.0\.0\.1:(\d+)$").group(1))
        self.wait_port(self.port)

    def request(self, method, path, **kw):
        return http_request(self.port, method, path, **kw)

    def stats(self):
        return http_request(self.port, "GET", "/stats", timeout=5).json()

    def set_healthy(self, healthy):
        r = http_request(self.port, "POST", "/admin/healthy" if healthy else "/admin/unhealthy")
        assert r.status == 200, f"backend {self.name} admin call failed: {r.status}"


class WsBackend(Process):
    """tests/integration/ws_server.js (node + ws) as a subprocess."""

    def __init__(self, harness, name):
        if not (HERE / "node_modules" / "ws").is_dir():
            raise RuntimeError("node module 'ws' missing: run "
                               "npm install --prefix tests/integration --no-audit --no-fund")
        self.name = name
        super().__init__(f"ws backend {name}", [NODE, HERE / "ws_server.js", "--port", 0,
                                                "--name", name],
                         harness.dir / f"ws-backend-{name}.log")
        self.port = int(self.wait_log(
            rf"^ws backend {re.escape(name)} listening on (\d+)$").group(1))
        self.wait_port(self.port)


class Balancer(Process):
    """The balancer. With `port` (its first listener's, fixed in the configuration) it is up
    once that port accepts. Without one (the configuration's addresses say port 0), the ports
    it bound are read from its log once it has started: `port` is the first listener's."""

    def __init__(self, harness, config_path, port, index, binary=None):
        self.config_path = config_path
        super().__init__(f"balancer #{index}", [binary or BALANCER_BIN, "-c", config_path],
                         harness.dir / f"balancer-{index}.log")
        if not port:
            # Logged after every listener and the admin API are bound.
            self.wait_log(r"balancer started workers=")
            port = next(iter(self.ports.values()), 0)
            if not port:
                raise RuntimeError(f"{self.label} logged no bound port ('listening name=NAME "
                                   f"address=IP:PORT'):\n{self.log_tail()}")
        self.port = port
        self.wait_port(port)

    @property
    def ports(self):
        """{listener name: bound port}, in the configuration's order, from the log's
        `listening name=NAME address=IP:PORT` lines (a listener a reload opened included)."""
        found = {}
        for name, port in re.findall(r"listening name=(\S+) address=\S*:(\d+)\b",
                                     self.log_text()):
            found[name] = int(port)
        return found

    @property
    def admin_port(self):
        """The admin API's bound port (from `admin listening ... port=N`), None without one."""
        found = re.findall(r"admin listening address=\S+ port=(\d+)", self.log_text())
        return int(found[-1]) if found else None

    def request(self, method, path, **kw):
        return http_request(self.port, method, path, **kw)

    def get(self, path, **kw):
        return http_request(self.port, "GET", path, **kw)

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw(self, timeout=10):
        return RawConnection(self.port, timeout)


class Blackhole:
    """A listener that accepts connections, records the first line sent on each, and never
    answers (a backend that is up at the TCP level but hangs)."""

    def __init__(self, port):
        self.port = port
        self.first_lines = []
        self._conns = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            conn.settimeout(2)
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            with self._lock:
                self._conns.append(conn)
                self.first_lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self._sock.close()
        for c in self._conns:
            c.close()


# --- configuration --------------------------------------------------------------------------

def simple_config(port, backend_ports, *, workers=1, balance="round_robin", health_check=None,
                  connect_timeout="500ms", request_timeout="5s", retries=1, pool=None,
                  shutdown_timeout="2s", extra_top="", route_match="{ path_prefix: / }"):
    """One listener, one upstream `app` with the given backends, one route to it."""
    backends = "\n".join(f"      - {{ address: 127.0.0.1:{p}, weight: 1 }}" for p in backend_ports)
    optional = ""
    if health_check:
        optional += f"    health_check: {health_check}\n"
    if pool:
        optional += f"    pool: {pool}\n"
    return f"""\
workers: {workers}
shutdown_timeout: {shutdown_timeout}
{extra_top}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  app:
    balance: {balance}
    backends:
{backends}
{optional}    connect_timeout: {connect_timeout}
    request_timeout: {request_timeout}
    retries: {retries}
routes:
  - match: {route_match}
    upstream: app
"""


def run_cli(*args, timeout=15):
    """Runs the balancer binary to completion (e.g. `-t -c FILE`, `--version`)."""
    return subprocess.run([BALANCER_BIN, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# --- HTTP client (http.client) ---------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers      # http.client.HTTPMessage: case-insensitive .get()
        self.body = body
        self.elapsed = elapsed

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {len(self.body)}B {self.body[:200]!r}>"


def _chunks(data, size=64 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def http_request(port, method, path, body=None, headers=None, chunked=False, timeout=30,
                 conn=None):
    """One request; a fresh connection unless `conn` (an HTTPConnection to reuse) is given.
    `chunked=True` sends the body with Transfer-Encoding: chunked."""
    headers = dict(headers or {})
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            conn.request(method, path, body=_chunks(body or b""), headers=headers,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data, time.monotonic() - start)
    finally:
        if own:
            conn.close()


# --- raw sockets -----------------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.header_list = headers              # [(name, value)] as received
        self.body = body

    def header(self, name, default=None):
        for k, v in self.header_list:
            if k.lower() == name.lower():
                return v
        return default

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.body[:200]!r}>"


class Incomplete(Exception):
    pass


def parse_response(buf, closed=False, head=False):
    """Parses one HTTP/1.1 response at the start of `buf`. Returns (RawResponse, bytes used);
    raises Incomplete when more bytes are needed. A body without framing ends at close.
    `head=True`: the answer to a HEAD request, which has no body whatever its headers say."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete()
    lines = buf[:end].decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    resp = RawResponse(int(status), reason[0] if reason else "", headers, b"")
    pos = end + 4
    te = (resp.header("Transfer-Encoding") or "").lower()
    if head or resp.status in (204, 304) or 100 <= resp.status < 200:
        pass                                        # no body, even with a Content-Length
    elif "chunked" in te:
        body = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                raise Incomplete()
            size = int(buf[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n", pos)
                while trailer_end > pos:            # skip trailer lines
                    pos = trailer_end + 2
                    trailer_end = buf.find(b"\r\n", pos)
                if trailer_end < 0:
                    raise Incomplete()
                pos = trailer_end + 2
                break
            if len(buf) < pos + size + 2:
                raise Incomplete()
            body.append(buf[pos:pos + size])
            pos += size + 2
        resp.body = b"".join(body)
    elif resp.header("Content-Length") is not None:
        n = int(resp.header("Content-Length"))
        if len(buf) < pos + n:
            raise Incomplete()
        resp.body = buf[pos:pos + n]
        pos += n
    else:
        if not closed:
            raise Incomplete()
        resp.body = buf[pos:]
        pos = len(buf)
    return resp, pos


class RawConnection:
    """A plain TCP connection for sending arbitrary bytes and reading what comes back."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False      # the peer closed (EOF or reset)
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data")
        except ConnectionResetError:
            data = b""
            self.reset = True
        if not data:
            self.closed = True
        self.buf += data

    def read_response(self, timeout=10, head=False):
        """The next complete response (`head=True`: to a HEAD request). Raises TimeoutError,
        or ConnectionError when the peer closes before a full response arrived."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp, used = parse_response(self.buf, self.closed, head)
                self.buf = self.buf[used:]
                return resp
            except Incomplete:
                if self.closed:
                    raise ConnectionError(f"connection closed after {len(self.buf)} bytes "
                                          f"without a complete response: {self.buf[:300]!r}")
                self._fill(deadline)

    def wait_closed(self, timeout=3):
        """True when the peer closes the connection within `timeout` s (extra bytes are kept
        in self.buf)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                self._fill(deadline)
            except TimeoutError:
                return False
        return True

    def stays_quiet(self, seconds=0.3):
        """True when, within `seconds`, no byte arrives beyond the responses already read and
        the peer does not close (e.g. no body after the answer to a HEAD)."""
        try:
            self._fill(time.monotonic() + seconds)
        except TimeoutError:
            pass
        return self.buf == b"" and not self.closed

    def close(self):
        self.sock.close()


def exchange(port, data, timeout=5):
    """Sends `data` on a new connection and returns (first response or None, closed_by_peer,
    raw bytes received): reads one response, then waits up to `timeout` for the close."""
    conn = RawConnection(port, timeout)
    try:
        conn.send(data)
        try:
            resp = conn.read_response(timeout)
        except (ConnectionError, TimeoutError, ValueError):
            resp = None
        closed = conn.wait_closed(timeout) if resp is not None else conn.closed
        return resp, closed, conn.buf
    finally:
        conn.close()


# --- the test runner -------------------------------------------------------------------------

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
