"""scripts/launch: a process is waited for until ready (a port, a log line, an HTTP answer, a
command), a failure names the log and shows this start's lines, stop is SIGTERM then SIGKILL by
pid, a pid file is trusted only while its process runs the expected program, and JSON state is
written atomically with the json library."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import launch  # noqa: E402

PY = sys.executable


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LaunchTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="launch-test-"))
        self.children = []

    def tearDown(self):
        for child in self.children:
            if child.alive():
                child.kill()
            child.close_log()

    def child(self, name, code, **kw):
        spec = launch.Process(name=name, argv=[PY, "-u", "-c", code],
                              log=self.dir / f"{name}.log", **kw)
        c = launch.Child(spec)
        self.children.append(c)
        return c

    def test_port_readiness(self):
        port = free_port()
        c = self.child("server", "import socket, time\n"
                       "time.sleep(0.3)\n"
                       "s = socket.socket()\n"
                       "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                       f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(30)",
                       ready=launch.PortAccepts(port), ready_timeout=10)
        self.assertTrue(c.wait_ready())
        self.assertTrue(launch.port_accepts(port))

    def test_log_line_readiness_returns_the_match(self):
        c = self.child("logger", "import time\ntime.sleep(0.2)\nprint('listening on 4242')\n"
                       "time.sleep(30)", ready=launch.LogLine(r"^listening on (\d+)$"))
        self.assertEqual(c.wait_ready().group(1), "4242")

    def test_command_readiness(self):
        flag = self.dir / "flag"
        c = self.child("toucher", f"import time, pathlib\ntime.sleep(0.2)\n"
                       f"pathlib.Path({str(flag)!r}).touch()\ntime.sleep(30)",
                       ready=launch.CommandSucceeds(["test", "-e", flag]))
        self.assertTrue(c.wait_ready())
        self.assertTrue(flag.exists())

    def test_http_readiness_needs_2xx_unless_any_answer_will_do(self):
        port = free_port()
        server = ("import http.server\n"
                  "class H(http.server.BaseHTTPRequestHandler):\n"
                  "    def do_GET(self):\n"
                  "        self.send_response(503); self.end_headers()\n"
                  "    def log_message(self, *a): pass\n"
                  f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()")
        c = self.child("http", server)
        self.assertTrue(c.wait_ready(launch.HttpAnswers(f"http://127.0.0.1:{port}/", False), 10))
        with self.assertRaises(launch.StartError) as e:
            c.wait_ready(launch.HttpAnswers(f"http://127.0.0.1:{port}/ready"), 0.5)
        self.assertIn("not ready after 0.5s", str(e.exception))
        self.assertIn("503", str(e.exception))

    def test_exit_before_ready_names_the_log_and_shows_this_start_only(self):
        log = self.dir / "crash.log"
        log.write_text("an earlier run's line\n")
        c = self.child("crash", "print('bad config at line 3'); raise SystemExit(3)",
                       ready=launch.PortAccepts(free_port()), append_log=True)
        with self.assertRaises(launch.StartError) as e:
            c.wait_ready()
        message = str(e.exception)
        self.assertIn("crash exited with code 3 before accepting on port", message)
        self.assertIn(f"its log ({log}) ends:", message)
        self.assertIn("    bad config at line 3", message)
        self.assertIn("=== ", message)  # the start's header line
        self.assertNotIn("an earlier run's line", message)
        self.assertIn("an earlier run's line", log.read_text())  # appended, not truncated

    def test_timeout_names_what_was_awaited(self):
        c = self.child("quiet", "import time; time.sleep(30)", ready=launch.LogLine("never"),
                       ready_timeout=0.3)
        with self.assertRaises(launch.StartError) as e:
            c.wait_ready()
        self.assertIn("quiet not logging /never/ after 0.3s", str(e.exception))
        self.assertTrue(c.alive(), "a process not ready in time is left to the caller")

    def test_stop_sigterm_then_sigkill(self):
        polite = self.child("polite", "import time; print('up'); time.sleep(30)",
                            ready=launch.LogLine("up"))
        polite.wait_ready()
        code, killed = polite.terminate(5)
        self.assertEqual((code, killed), (-15, False))
        stubborn = self.child("stubborn", "import signal, time\n"
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                              "print('up'); time.sleep(30)", ready=launch.LogLine("up"))
        stubborn.wait_ready()
        start = time.monotonic()
        code, killed = stubborn.terminate(0.5)
        self.assertEqual((code, killed), (-9, True))
        self.assertLess(time.monotonic() - start, 5)

    def test_stop_by_pid_of_a_process_started_elsewhere(self):
        # A part started by an earlier run: not our child, stopped by pid, seen gone by /proc.
        other = subprocess.Popen(["sleep", "30"], start_new_session=True)
        try:
            self.assertTrue(launch.alive(other.pid))
            self.assertFalse(launch.stop(other.pid, 5, other))
            self.assertFalse(launch.alive(other.pid))
        finally:
            if other.poll() is None:
                other.kill()
            other.wait()

    def test_new_session(self):
        c = self.child("detached", "import time; print('up'); time.sleep(30)",
                       ready=launch.LogLine("up"), new_session=True)
        c.wait_ready()
        self.assertEqual(os.getsid(c.pid), c.pid)
        self.assertNotEqual(os.getsid(c.pid), os.getsid(0))

    def test_env_and_cwd(self):
        c = self.child("env", "import os; print(os.environ['LAUNCH_TEST'], os.getcwd())",
                       env={"LAUNCH_TEST": "42"}, cwd=self.dir)
        self.assertEqual(c.wait_exit(10), 0)
        self.assertEqual(c.log_text().split(), ["42", str(self.dir.resolve())])

    def test_pid_file_trusts_only_its_program(self):
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            pid_file = launch.PidFile(self.dir / "part.pid", "sleep")
            deadline = time.monotonic() + 5  # until the fork has exec'd sleep
            while launch.comm(sleeper.pid) != "sleep" and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertIsNone(pid_file.pid(), "no file")
            pid_file.write(sleeper.pid)
            self.assertEqual(pid_file.pid(), sleeper.pid)
            other = launch.PidFile(self.dir / "part.pid", "balancer")
            self.assertIsNone(other.pid(), "a pid reused by another program")
            sleeper.kill()
            sleeper.wait()
            self.assertIsNone(pid_file.pid(), "a stale pid")
            pid_file.remove()
            self.assertFalse(pid_file.exists())
        finally:
            if sleeper.poll() is None:
                sleeper.kill()
                sleeper.wait()

    def test_write_json(self):
        path = self.dir / "state" / "launch.json"
        argv = ['/bin/with "quote"', "back\\slash", "tab\there", "ünï"]
        launch.write_json(path, {"argv": argv})
        self.assertEqual(json.loads(path.read_text()), {"argv": argv})
        self.assertEqual(launch.read_json(path), {"argv": argv})
        self.assertEqual([p.name for p in path.parent.iterdir()], ["launch.json"])
        self.assertIsNone(launch.read_json(self.dir / "missing.json"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
