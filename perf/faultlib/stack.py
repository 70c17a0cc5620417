"""What the balancer cases run: test-origin backends (C++, one loop: /slow?ms=N answers after
N ms without holding a thread), a balancer with an admin port and an access log, and the admin
API's views."""
import json
import os
import re
import signal
import time

import harness
from harness import Process, free_port, http_request

from . import REPO

BIN_DIR = os.environ.get("BIN_DIR") or str(REPO / "build" / "bin")
ASAN_BALANCER = os.environ.get("FAULTS_ASAN_BALANCER") or str(REPO / "build-asan" / "bin" /
                                                               "balancer")


class Origin(Process):
    """build/bin/test-origin on a port (a fixed one to come back on the same address)."""

    def __init__(self, h, name, port=None):
        self.name = name
        self.port = port or free_port()
        super().__init__(f"origin {name}", [os.path.join(BIN_DIR, "test-origin"), "--port",
                                            self.port, "--name", name],
                         h.dir / f"origin-{name}-{time.monotonic_ns()}.log")
        h.processes.append(self)
        self.wait_port(self.port)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def pause(self):
        """SIGSTOP: the kernel still accepts connections, nothing answers (a hung process)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self):
        if self.alive():
            os.kill(self.pid, signal.SIGCONT)


def balancer_config(port, admin_port, access_log, backends, *, workers=2, health=None,
                    request_timeout="5s", connect_timeout="500ms", retries=1, extra_top="",
                    extra_upstream="", balance="round_robin", shutdown_timeout="3s",
                    extra_routes=""):
    """One listener, an admin port, an access log, one upstream `app` routed at /."""
    lines = "\n".join(f"      - {{ address: {b}, weight: 1 }}" for b in backends)
    hc = f"    health_check: {health}\n" if health else ""
    return f"""\
workers: {workers}
shutdown_timeout: {shutdown_timeout}
{extra_top}
admin: {{ address: 127.0.0.1:{admin_port} }}
access_log: {{ path: {access_log} }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  app:
    balance: {balance}
    backends:
{lines}
{hc}{extra_upstream}    connect_timeout: {connect_timeout}
    request_timeout: {request_timeout}
    retries: {retries}
routes:
{extra_routes}  - match: {{ path_prefix: / }}
    upstream: app
"""


class Lb:
    """A balancer started through the harness, with its admin port and access log."""

    def __init__(self, h, config_for, binary=None):
        """`config_for(port, admin_port, access_log)` returns the YAML text."""
        self.port = free_port()
        self.admin_port = free_port()
        self.access_log = h.dir / f"access-{self.port}.log"
        text = config_for(self.port, self.admin_port, self.access_log)
        self.proc = h.balancer(text, self.port, binary)
        self.pid = self.proc.pid
        harness.wait_for(lambda: harness.port_accepts(self.admin_port), 5)

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        return http_request(self.admin_port, method, path, body=data, headers=headers, timeout=5)

    def backends(self, upstream="app"):
        """{address: backend JSON} from GET /upstreams."""
        for u in self.admin("GET", "/upstreams").json()["upstreams"]:
            if u["name"] == upstream:
                return {b["address"]: b for b in u["backends"]}
        return {}

    def metric(self, name, labels=""):
        """The sum of the samples of `name` whose label text contains `labels`."""
        text = self.admin("GET", "/metrics").body.decode()
        total = 0.0
        for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M):
            if labels in (m.group(1) or ""):
                total += float(m.group(2))
        return total

    def wait_healthy(self, addresses, timeout=10):
        return harness.wait_for(lambda: all(self.backends().get(a, {}).get("healthy")
                                            for a in addresses), timeout)

    def rss_kb(self):
        for line in open(f"/proc/{self.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, timeout=harness.STOP_TIMEOUT):
        """SIGTERM (SIGKILL after `timeout`): (exit code, seconds it took, needed SIGKILL)."""
        start = time.monotonic()
        code, killed = self.proc.terminate(timeout)
        return code, time.monotonic() - start, killed
