"""The scripts' arguments (scripts/usage.sh): -h/--help prints the usage and exits 0; an option
a script does not take, or an argument too many, exits 2 with the usage before it installs,
builds or writes anything. `scripts/test --help` used to start the whole test run (an hour),
`scripts/setup --help` ran apt, `scripts/dev-certs --help` ran `mkdir --help`.

    python3 tests/scripts/test_cli.py        (a second; nothing is built or installed)
"""
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(script, *args, env=None):
    """(exit status, stdout, stderr); a script still running after 10 s (it went on to build
    or install) is killed with everything it started, and counts as status None."""
    p = subprocess.Popen([str(SCRIPTS / script), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=dict(os.environ, **(env or {})))
    try:
        out, err = p.communicate(timeout=10)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out, err


class Help(unittest.TestCase):
    CASES = {"test": "scripts/test --fast", "setup": "Installs every Debian package",
             "dev-certs": "scripts/dev-certs [DIR] [HOST ...]", "dev-keys": "scripts/dev-keys"}

    def test_help_prints_the_usage(self):
        for script, usage in self.CASES.items():
            for flag in ("--help", "-h"):
                with self.subTest(script=script, flag=flag):
                    status, out, err = run(script, flag)
                    self.assertEqual(status, 0, err)
                    self.assertIn(usage, out)
                    self.assertNotIn("set -euo", out)


class Refused(unittest.TestCase):
    def assertRefused(self, script, *args, says):
        status, out, err = run(script, *args)
        self.assertEqual(status, 2, f"{script} {' '.join(args)}: {out}{err}")
        self.assertIn(says, err)
        self.assertIn(self.first_line(script), err)

    @staticmethod
    def first_line(script):
        return (SCRIPTS / script).read_text().splitlines()[1].lstrip("# ").strip()

    def test_unknown_options(self):
        self.assertRefused("test", "--fats", says="scripts/test: unknown option '--fats'")
        self.assertRefused("setup", "--yes", says="unknown option '--yes'")
        self.assertRefused("dev-keys", "extra", says="scripts/dev-keys: takes no arguments")

    def test_dev_certs_writes_nothing_when_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assertRefused("dev-certs", str(Path(tmp) / "certs"), "--force",
                               says="unknown option '--force'")
            self.assertFalse((Path(tmp) / "certs").exists())

    def test_dev_keys_help_writes_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            status, _, _ = run("dev-keys", "--help", env={"KEYS_DIR": str(Path(tmp) / "k")})
            self.assertEqual(status, 0)
            self.assertFalse((Path(tmp) / "k").exists())


if __name__ == "__main__":
    sys.exit(not unittest.main(verbosity=2, exit=False).result.wasSuccessful())
