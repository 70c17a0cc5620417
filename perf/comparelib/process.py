"""The processes a run starts (and only those get signalled, by pid), file descriptor limits,
ports, and the tails of their logs."""
import os
import resource
import signal
import socket
import subprocess
import time

from . import log
from .measure import alive, children_of


class Proc:
    registry = []

    def __init__(self, name, argv, logfile, cwd=None):
        self.name = name
        self.logfile = logfile
        self.log = open(logfile, "ab")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd,
                                      start_new_session=True)
        self.pid = self.popen.pid
        self.known = {self.pid}
        self.stopped_by_us = False
        Proc.registry.append(self)

    def pids(self):
        """The process and its descendants (nginx master + workers)."""
        if not alive(self.pid):
            return []
        kids = children_of(self.pid)
        self.known.update(kids)
        return [self.pid] + kids

    def exited(self):
        return self.popen.poll() is not None

    def exit_desc(self):
        rc = self.popen.poll()
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return f"killed by signal {signal.Signals(-rc).name}"
            except ValueError:
                return f"killed by signal {-rc}"
        return f"exited with status {rc}"

    def stop(self, grace=5.0):
        if self.popen.poll() is None:
            self.pids()
            self.stopped_by_us = True
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"  {self.name} (pid {self.pid}) ignored SIGTERM for {grace}s; SIGKILL")
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
        # leftovers (e.g. nginx workers whose master died): by their own pid
        deadline = time.time() + 3
        for p in self.known - {self.pid}:
            while alive(p) and time.time() < deadline:
                time.sleep(0.05)
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()
        if self in Proc.registry:
            Proc.registry.remove(self)


def cleanup_all():
    for p in list(Proc.registry):
        try:
            p.stop(grace=3)
        except Exception as e:  # keep stopping the others
            log(f"cleanup of {p.name} (pid {p.pid}): {e}")


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP: stop measuring, report what was measured."""


def on_signal(signum, frame):
    log(f"\nsignal {signum}: stopping everything this script started")
    cleanup_all()
    raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}")


def raise_nofile(need):
    """Soft RLIMIT_NOFILE up to the hard limit, and both up to twice `need` (the fds
    one process may hold: N client + N upstream connections) when we may (root),
    so that no proxy runs short with 10,000 connections.  Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * need
    if hard < want:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                want = min(want, int(f.read()))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (OSError, ValueError):
            pass   # not privileged: the hard limit stays
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A free loopback port (for helpers such as Redis, not for the four fixed ones)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(path, n=15):
    """Last n lines of a log, on one line (they go into Markdown list items)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return " ⏎ ".join(l.strip() for l in lines[-n:] if l.strip())
    except OSError:
        return ""
