"""The processes a test starts (balancer, backends) and a listener that never answers."""
import http.client
import re
import socket
import threading

from .http_client import http_request
from .raw_http import RawConnection
from .settings import BALANCER_BIN, HERE, NODE, PYTHON, START_TIMEOUT, STOP_TIMEOUT
import launch  # noqa: E402  (on sys.path through settings)

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
