"""Helpers for the balancer integration tests (Python standard library only), one module an
idea: settings (paths, binaries, timeouts), ports, processes, config, http_client (http.client
requests), raw_http (raw sockets, a response parser), runner (Harness, run). Tests import
from the package: `from harness import run, simple_config`.

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

from .settings import (BALANCER_BIN, HERE, NODE, PYTHON, REPO, START_TIMEOUT, STOP_TIMEOUT,
                       TEST_DEADLINE)
from .ports import connect_refused, free_port, port_accepts, wait_for
from .http_client import Response, http_request, sha256
from .raw_http import Incomplete, RawConnection, RawResponse, exchange, parse_response
from .processes import Backend, Balancer, Blackhole, Process, WsBackend
from .config import dev_certs, run_cli, simple_config
from .runner import Harness, TestDeadline, run

__all__ = [
    "BALANCER_BIN", "HERE", "NODE", "PYTHON", "REPO", "START_TIMEOUT", "STOP_TIMEOUT",
    "TEST_DEADLINE", "connect_refused", "free_port", "port_accepts", "wait_for", "Response",
    "http_request", "sha256", "Incomplete", "RawConnection", "RawResponse", "exchange",
    "parse_response", "Backend", "Balancer", "Blackhole", "Process", "WsBackend", "dev_certs",
    "run_cli", "simple_config", "Harness", "TestDeadline", "run",
]
