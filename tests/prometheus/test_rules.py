"""The recording rules in config/prometheus-rules.yml: promtool's unit tests pass, the rules
the autoscaler queries exist, and every rule has a test in prometheus-rules.test.yml.

Exits 77 (ctest: skipped) when promtool is not installed.
"""
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config" / "prometheus-rules.yml"
RULE_TESTS = REPO / "config" / "prometheus-rules.test.yml"
PROMTOOL = shutil.which("promtool")

# scripts/autoscaler queries these by name, each labelled {upstream="..."}.
CONTRACT = {
    "upstream:balancer_requests:rate30s",
    "upstream:balancer_upstream_in_flight:sum",
    "upstream:balancer_request_duration_seconds:p99_30s",
    "upstream:balancer_upstream_backend_up:sum",
}


def promtool(*args):
    r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def recorded_names():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]


class RecordingRules(unittest.TestCase):
    def test_promtool_check_rules(self):
        rc, out = promtool("check", "rules", str(RULES))
        self.assertEqual(rc, 0, out)

    def test_promtool_unit_tests_pass(self):
        rc, out = promtool("test", "rules", str(RULE_TESTS))
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_the_autoscalers_rules_exist(self):
        self.assertLessEqual(CONTRACT, set(recorded_names()))

    def test_every_rule_is_tested(self):
        tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
        tested = {case["expr"] for t in tests for case in t.get("promql_expr_test", [])}
        self.assertEqual(set(recorded_names()) - tested, set(), "rules without a promtool test")


if __name__ == "__main__":
    if PROMTOOL is None:
        print("SKIPPED: promtool is not installed (scripts/setup installs package prometheus)")
        sys.exit(77)
    unittest.main(verbosity=2)
