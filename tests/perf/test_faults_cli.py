"""perf/faults' command line: only a full run (every case, full numbers) writes
perf/results/faults-latest.json, the table perf/report includes; --short or --cases write into
perf/results/raw/ (git-ignored). Pure Python, no case is run."""
import importlib.machinery
import importlib.util
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


if __name__ == "__main__":
    sys.exit(not unittest.main(verbosity=2, exit=False).result.wasSuccessful())
