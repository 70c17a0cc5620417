"""A process to run (Process) and one this program started (Child)."""
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pids, readiness


@dataclass
class Process:
    """What to run. `env`: variables set on top of this program's environment. `log`: where
    its stdout and stderr go; appended to, after a "=== DATE ARGV" line, when `append_log`
    (a log that keeps earlier runs), else truncated. `ready`: a readiness check (readiness.py)
    that `start` waits for, at most `ready_timeout` seconds. `new_session`: in a session of
    its own, so that a signal to this program's group (a closed terminal) does not reach it."""
    name: str
    argv: list
    log: Path
    cwd: Path = None
    env: dict = field(default_factory=dict)
    ready: object = None
    ready_timeout: float = 10.0
    append_log: bool = False
    new_session: bool = False


class StartError(RuntimeError):
    """A process that exited, or was not ready in time, with the end of its log."""

    def __init__(self, name, reason, log_path, tail):
        self.name = name
        self.reason = reason
        self.log_path = log_path
        self.tail = tail
        lines = "\n".join("    " + line for line in tail)
        super().__init__(f"{name} {reason}; its log ({log_path}) ends:\n{lines}")


class Child:
    """A process this program started from a Process; `proc` is its subprocess.Popen, `pid`
    the program's own pid (no shell in between)."""

    def __init__(self, spec):
        self.spec = spec
        self.argv = [str(a) for a in spec.argv]
        self.log_path = Path(spec.log)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab" if spec.append_log else "wb")
        self.log_offset = self._log.tell()  # where this start's lines begin
        if spec.append_log:
            self._log.write(f"=== {time.strftime('%F %T')} {' '.join(self.argv)}\n".encode())
            self._log.flush()
        env = dict(os.environ, **{k: str(v) for k, v in spec.env.items()}) if spec.env else None
        try:
            self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         cwd=str(spec.cwd) if spec.cwd else None,
                                         start_new_session=spec.new_session)
        except OSError:
            self._log.close()
            raise
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll()

    def wait_ready(self, check=None, timeout=None):
        """Waits for `check` (default: the spec's), at most `timeout` seconds (default: the
        spec's); returns its result. Raises StartError when the process exits first or the
        time runs out."""
        check = check or self.spec.ready
        timeout = self.spec.ready_timeout if timeout is None else timeout
        if check is None:
            return True
        result = readiness.wait(check, timeout, self.alive, self)
        if result:
            return result
        if not self.alive():
            raise self.error(f"exited with code {self.proc.returncode} before {check.what}")
        detail = check.detail()
        raise self.error(f"not {check.what} after {timeout:g}s" +
                         (f" ({detail})" if detail else ""))

    def wait_exit(self, timeout):
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout):
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns (exit code, needed SIGKILL)."""
        killed = pids.stop(self.pid, timeout, self.proc)
        return self.proc.wait(timeout=5), killed

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def log_text(self):
        """This start's part of the log."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def error(self, reason, lines=25):
        tail = self.log_text().splitlines()[-lines:]
        return StartError(self.spec.name, reason, self.log_path, tail)

    def close_log(self):
        self._log.close()


def start(spec):
    """Starts `spec` and waits (bounded) until it is ready. On StartError the process is left
    as it is (it may still run): the caller decides whether to stop it."""
    child = Child(spec)
    child.wait_ready()
    return child
