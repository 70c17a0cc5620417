"""Processes by pid, never by name: whether one runs, which program it runs, and stopping it
with SIGTERM, a bounded wait, then SIGKILL."""
import os
import signal
import time
from pathlib import Path


def alive(pid):
    """Whether `pid` runs. A zombie does not: a part whose starter exited is a child of init,
    and an exited one stays a zombie until init reaps it (kill -0 would still succeed)."""
    try:
        status = Path(f"/proc/{int(pid)}/status").read_text()
    except (OSError, ValueError):
        return False
    for line in status.splitlines():
        if line.startswith("State:"):
            return line.split()[1] not in ("Z", "X")
    return False


def comm(pid):
    """The kernel's name of `pid`'s program (its first 15 characters); "" when it is gone."""
    try:
        return Path(f"/proc/{int(pid)}/comm").read_text().strip()
    except (OSError, ValueError):
        return ""


def program(pid):
    """The basename of `pid`'s argv[0]; "" when it is gone or unreadable."""
    try:
        argv0 = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError, UnicodeDecodeError):
        return ""
    return os.path.basename(argv0)


def send(pid, sig):
    """Signal `sig` to `pid`; nothing when it is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(pid, timeout, child=None, kill_wait=5.0):
    """SIGTERM to `pid`, then SIGKILL if it still runs after `timeout` seconds (then up to
    `kill_wait` more for it to go). `child` is its subprocess.Popen when this program started
    it, so that it is reaped. Returns True when SIGKILL was needed."""
    def running():
        return child.poll() is None if child is not None else alive(pid)

    def exited_within(seconds):
        deadline = time.monotonic() + seconds
        while running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not running()

    if not running():
        return False
    send(pid, signal.SIGTERM)
    if exited_within(timeout):
        return False
    send(pid, signal.SIGKILL)
    exited_within(kill_wait)
    return True
