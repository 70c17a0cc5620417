"""Balancer configurations for tests, the certificates they name, and running the binary as
a command (-t, --version)."""
import subprocess

from .settings import BALANCER_BIN, REPO

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


def dev_certs(folder, *hosts):
    """A local CA and a certificate per host signed by it, made in `folder` by
    scripts/dev-certs: ca.crt, HOST.crt and HOST.key (files already there are kept)."""
    subprocess.run([str(REPO / "scripts" / "dev-certs"), str(folder), *hosts], check=True,
                   capture_output=True)
    return folder
