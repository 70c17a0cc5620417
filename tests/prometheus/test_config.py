"""config/prometheus.yml as scripts/stack places it: `scripts/stack prometheus-config` writes
the run folder's prometheus/ (configuration, rules, targets files) exactly as `up` does; a
targets file in the autoscaler's format is added beside them; then promtool check config (which
also reads every file-SD file) and our own check of the file-SD format and of the contract.

Exits 77 (ctest: skipped) when promtool is not installed.
"""
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack"
PROMTOOL = shutil.which("promtool")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ADDRESS = re.compile(r"^127\.0\.0\.1:[0-9]{1,5}$")
OFFSET = 7


def write_prometheus_config(run_dir, **env):
    """Runs scripts/stack prometheus-config; returns the prometheus/ folder it wrote."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STACK_")}
    clean.update(STACK_RUN_DIR=str(run_dir), **env)
    r = subprocess.run([str(STACK), "prometheus-config"], env=clean, capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"scripts/stack prometheus-config failed:\n{r.stdout}{r.stderr}")
    return Path(r.stdout.strip()).parent


def check_config(config):
    r = subprocess.run([PROMTOOL, "check", "config", str(config)], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def file_sd_problems(path):
    """What keeps PATH from being a file-SD file: a JSON list of {"targets": ["host:port"...],
    "labels": {name: value}} groups. Empty when it is one."""
    try:
        groups = json.loads(path.read_text())
    except ValueError as e:
        return [f"{path.name}: not JSON: {e}"]
    if not isinstance(groups, list):
        return [f"{path.name}: not a JSON list"]
    problems = []
    for i, group in enumerate(groups):
        where = f"{path.name}[{i}]"
        if not isinstance(group, dict) or not set(group) <= {"targets", "labels"}:
            problems.append(f"{where}: not an object with only targets and labels")
            continue
        targets = group.get("targets")
        if not isinstance(targets, list) or not all(
                isinstance(t, str) and ADDRESS.match(t) for t in targets):
            problems.append(f"{where}: targets is no list of 127.0.0.1:PORT: {targets!r}")
        labels = group.get("labels", {})
        if not isinstance(labels, dict) or not all(
                isinstance(k, str) and LABEL_NAME.match(k) and not k.startswith("__")
                and isinstance(v, str) for k, v in labels.items()):
            problems.append(f"{where}: labels is no map of label names to strings: {labels!r}")
    return problems


class StackPrometheusConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="prometheus-config-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.dir = write_prometheus_config(self.tmp / "stack", STACK_PORT_OFFSET=str(OFFSET))
        self.targets = self.dir / "targets"
        # The autoscaler's file, in the format of the contract.
        (self.targets / "services-product-autoscaler.json").write_text(json.dumps(
            [{"targets": ["127.0.0.1:7102", "127.0.0.1:7103"], "labels": {"service": "product"}}]))

    def groups(self, name):
        return json.loads((self.targets / name).read_text())

    def test_promtool_accepts_it_with_every_targets_file(self):
        rc, out = check_config(self.dir / "prometheus.yml")
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS: 1 rule files found", out)
        # A job whose files are missing is only a warning to promtool: none may be missing.
        self.assertNotIn("WARNING", out)

    def test_every_targets_file_is_file_sd_format(self):
        files = sorted(self.targets.glob("*.json"))
        self.assertEqual(len(files), 7, [f.name for f in files])  # 4 services, 3 more
        for path in files:
            self.assertEqual(file_sd_problems(path), [], path.name)

    def test_every_targets_file_belongs_to_exactly_one_job(self):
        config = yaml.safe_load((self.dir / "prometheus.yml").read_text())
        patterns = {job["job_name"]: [f for sd in job.get("file_sd_configs", [])
                                      for f in sd["files"]]
                    for job in config["scrape_configs"]}
        self.assertEqual(set(patterns), {"balancer", "services", "prometheus"})
        for path in self.targets.glob("*.json"):
            relative = str(path.relative_to(self.dir))
            jobs = [job for job, globs in patterns.items()
                    if any(fnmatch.fnmatchcase(relative, g) for g in globs)]
            self.assertEqual(len(jobs), 1, f"{relative} is read by jobs {jobs}")

    def test_targets_are_the_stacks_ports_and_services_are_labelled(self):
        self.assertEqual(self.groups("balancer.json"),
                         [{"targets": [f"127.0.0.1:{9901 + OFFSET}"]}])
        self.assertEqual(self.groups("prometheus.json"),
                         [{"targets": [f"127.0.0.1:{9090 + OFFSET}"]}])
        for name, port in {"user": 7001, "product": 7101, "order": 7201,
                           "notification": 7301}.items():
            self.assertEqual(self.groups(f"services-{name}.json"),
                             [{"targets": [f"127.0.0.1:{port + OFFSET}"],
                               "labels": {"service": name}}])

    def test_rules_copied_beside_the_configuration(self):
        for name in ("prometheus.yml", "prometheus-rules.yml"):
            self.assertEqual((self.dir / name).read_text(),
                             (REPO / "config" / name).read_text(), name)

    def test_a_broken_targets_file_fails_the_check(self):
        (self.targets / "services-product-autoscaler.json").write_text(
            '[{"targets": "127.0.0.1:7102"}]')
        rc, out = check_config(self.dir / "prometheus.yml")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("services-", out)

    def test_services_left_out_and_a_chosen_port(self):
        folder = write_prometheus_config(self.tmp / "other", STACK_SERVICES="user product",
                                         STACK_PROMETHEUS_PORT="19999")
        names = sorted(p.name for p in (folder / "targets").glob("*.json"))
        self.assertEqual(names, ["balancer.json", "prometheus.json", "services-product.json",
                                 "services-user.json"])
        self.assertEqual(json.loads((folder / "targets" / "prometheus.json").read_text()),
                         [{"targets": ["127.0.0.1:19999"]}])
        rc, out = check_config(folder / "prometheus.yml")
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    if PROMTOOL is None:
        print("SKIPPED: promtool is not installed (scripts/setup installs package prometheus)")
        sys.exit(77)
    unittest.main(verbosity=2)
