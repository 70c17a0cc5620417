"""perf's command lines, without running a measurement: perf/faults writes
perf/results/faults-latest.json (the table perf/report includes) only for a full run (every case,
full numbers), --short or --cases write into perf/results/raw/ (git-ignored); perf/callgrind
answers --help and refuses a REQUESTS that is no number (both were shell errors); perf/cache-tests
answers --help and refuses a folder that is not a cache-tests checkout."""
import importlib.machinery
import importlib.util
import subprocess
import sys
import unittest
from argparse import Namespace
from pathlib import Path

PERF = Path(__file__).resolve().parents[2] / "perf"
loader = importlib.machinery.SourceFileLoader("perf_faults", str(PERF / "faults"))
spec = importlib.util.spec_from_loader("perf_faults", loader)
faults = importlib.util.module_from_spec(spec)
loader.exec_module(faults)


class DefaultJson(unittest.TestCase):
    def where(self, short=False, cases=None):
        return faults.default_json(Namespace(short=short, cases=cases))

    def test_the_full_suite_writes_the_table_perf_report_reads(self):
        self.assertEqual(self.where(), PERF / "results" / "faults-latest.json")
        every = ",".join(faults.suite.CASES)
        self.assertEqual(self.where(cases=every), PERF / "results" / "faults-latest.json")

    def test_a_partial_run_writes_beside_the_raw_results(self):
        raw = PERF / "results" / "raw" / "faults-latest.json"
        self.assertEqual(self.where(short=True), raw)
        self.assertEqual(self.where(cases="backend_killed"), raw)
        self.assertEqual(self.where(short=True, cases="backend_killed,redis_restart"), raw)


class Callgrind(unittest.TestCase):
    def callgrind(self, *args):
        return subprocess.run([str(PERF / "callgrind"), *args], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL)

    def test_help(self):
        r = self.callgrind("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("perf/callgrind [REQUESTS]", r.stdout)

    def test_requests_not_a_number(self):
        r = self.callgrind("abc")
        self.assertEqual(r.returncode, 2)
        self.assertIn("REQUESTS must be a number, not 'abc'", r.stderr)


class CacheTests(unittest.TestCase):
    """perf/cache-tests needs a checkout of the suite: without one it stops before starting
    anything (the suite itself is never run here: it is not in this repository)."""
    def cache_tests(self, *args):
        return subprocess.run([str(PERF / "cache-tests"), *args], capture_output=True,
                              text=True, timeout=10, stdin=subprocess.DEVNULL)

    def test_help(self):
        r = self.cache_tests("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--store-set-cookie", r.stdout)

    def test_not_a_checkout(self):
        r = self.cache_tests(str(PERF))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not a cache-tests checkout", r.stderr)


if __name__ == "__main__":
    sys.exit(not unittest.main(verbosity=2, exit=False).result.wasSuccessful())
