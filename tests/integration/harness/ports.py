"""Ports: a free one claimed across parallel tests, waiting for one to accept or refuse."""
import atexit
import contextlib
import os
import random
import socket
import tempfile
import time
from pathlib import Path

from . import settings  # noqa: F401  (puts scripts/ on sys.path for launch)
import launch  # noqa: E402

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
