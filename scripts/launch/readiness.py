"""What "ready" means for a process just started. Each check has `what` (for messages: "not
accepting on port 8080 after 10s") and `poll(child)`, which returns something true once the
process is ready (a log check returns its match) and None before."""
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

# The processes are on this machine: an http_proxy from the environment must not be used.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def port_accepts(port, timeout=0.5, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class PortAccepts:
    def __init__(self, port, host="127.0.0.1"):
        self.port = port
        self.host = host
        self.what = f"accepting on port {port}"

    def poll(self, child=None):
        return True if port_accepts(self.port, 0.2, self.host) else None

    def detail(self):
        return ""


class LogLine:
    """A line of the process's log (this start's part) matching a regular expression."""

    def __init__(self, pattern):
        self.regex = re.compile(pattern, re.MULTILINE)
        self.what = f"logging /{pattern}/"

    def poll(self, child):
        return self.regex.search(child.log_text())

    def detail(self):
        return ""


class HttpAnswers:
    """GET `url` answers: with any status, or with a 2xx when `ok_only` (a /ready endpoint)."""

    def __init__(self, url, ok_only=True):
        self.url = url
        self.ok_only = ok_only
        self.what = "ready" if ok_only else "answering"
        self._last = "no answer"

    def poll(self, child=None):
        try:
            with _opener.open(self.url, timeout=1) as response:
                self._last = f"{response.status} {response.read(200)!r}"
                return True
        except urllib.error.HTTPError as e:
            self._last = f"{e.code} {e.read(200)!r}"
            return None if self.ok_only else True
        except (urllib.error.URLError, OSError) as e:
            self._last = str(getattr(e, "reason", e))
            return None

    def detail(self):
        return f"{self.url}: {self._last}"


class CommandSucceeds:
    """A command (argv) exits 0, e.g. a client's ping."""

    def __init__(self, argv, timeout=5):
        self.argv = [str(a) for a in argv]
        self.timeout = timeout
        self.what = f"passing `{' '.join(self.argv)}`"

    def poll(self, child=None):
        try:
            r = subprocess.run(self.argv, capture_output=True, timeout=self.timeout,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return True if r.returncode == 0 else None

    def detail(self):
        return ""


def wait(check, timeout, still_running=lambda: True, child=None, interval=0.05):
    """Polls `check` until it passes (returns its result), `still_running()` turns false or
    `timeout` seconds pass (returns None). Whether the process runs is read before the check,
    so a line it wrote just before exiting is still seen."""
    deadline = time.monotonic() + timeout
    while True:
        running = still_running()
        result = check.poll(child)
        if result:
            return result
        if not running or time.monotonic() >= deadline:
            return None
        time.sleep(interval)
