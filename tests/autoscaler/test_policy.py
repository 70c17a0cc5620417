"""The autoscaler's policy (scripts/autoscale/policy.py): defaults, durations, and every bad
policy refused with the file, line and column of the culprit; config/autoscaler.yaml loads and
names upstreams that config/stack.yaml has; how an instance's command is made."""
import json
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from autoscale.cli import with_stack  # noqa: E402
from autoscale.instances import launch_command  # noqa: E402
from autoscale.policy import PolicyError, load, parse, parse_duration  # noqa: E402

MINIMAL = """\
services:
  product:
    upstream: products
    metric: in_flight
    target: 8
    max: 4
    ports: 7102-7199
"""


def with_line(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


class FromTheStack(unittest.TestCase):
    """What the policy leaves out comes from the running stack's stack.env (scripts/stack up
    writes it with the shifted ports); what it names stays."""
    STACK = {"ADMIN_URL": "http://127.0.0.1:9948", "ADMIN_TOKEN_FILE": "/k/admin-token",
             "PROMETHEUS_URL": ""}

    def test_left_out_keys_come_from_the_stack(self):
        p = with_stack(parse(MINIMAL, "a.yaml"), self.STACK)
        self.assertEqual((p.admin, p.token_file, p.prometheus),
                         ("http://127.0.0.1:9948", "/k/admin-token", None))

    def test_the_policy_wins(self):
        text = "admin: http://h:1/\ntoken: secret\nprometheus: http://p:2\n" + MINIMAL
        p = with_stack(parse(text, "a.yaml"), self.STACK)
        self.assertEqual((p.admin, p.token, p.token_file, p.prometheus),
                         ("http://h:1", "secret", None, "http://p:2"))

    def test_no_stack_keeps_the_defaults(self):
        p = with_stack(parse(MINIMAL, "a.yaml"), {})
        self.assertEqual((p.admin, p.prometheus), ("http://127.0.0.1:9901",
                                                   "http://127.0.0.1:9090"))


class Defaults(unittest.TestCase):
    def test_minimal_policy_gets_the_hpa_defaults(self):
        p = parse(MINIMAL, "a.yaml")
        self.assertEqual(p.admin, "http://127.0.0.1:9901")
        self.assertEqual(p.prometheus, "http://127.0.0.1:9090")
        self.assertIsNone(p.token)
        s = p.services["product"]
        self.assertEqual((s.upstream, s.metric, s.target, s.min, s.max),
                         ("products", "in_flight", 8.0, 1, 4))
        self.assertEqual((s.sync_period, s.tolerance, s.scale_up_window, s.scale_down_window),
                         (15.0, 0.1, 0.0, 300.0))
        self.assertEqual((s.ports.start, s.ports.stop), (7102, 7200))
        self.assertIsNone(s.command)
        self.assertEqual((s.ready_timeout, s.drain_timeout, s.stop_timeout), (20.0, 30.0, 15.0))

    def test_everything_given(self):
        text = MINIMAL.replace("    metric: in_flight\n    target: 8\n", """\
    metric: p99_latency
    target: 250ms
    min: 2
    sync_period: 1s
    tolerance: 0.2
    stabilization: { scale_up: 30s, scale_down: 5m }
    command: ["{bin_dir}/product-service", --listen, "127.0.0.1:{port}", --config, "{root}/x.yaml"]
    ready_timeout: 3s
    drain_timeout: 1m
    stop_timeout: 500ms
""")
        text = "admin: http://h:1/\ntoken: secret\nprometheus: false\n" + text
        p = parse(text, "a.yaml")
        s = p.services["product"]
        self.assertEqual((p.admin, p.token, p.prometheus), ("http://h:1", "secret", None))
        self.assertEqual((s.metric, s.target, s.min, s.sync_period, s.tolerance),
                         ("p99_latency", 0.25, 2, 1.0, 0.2))
        self.assertEqual((s.scale_up_window, s.scale_down_window), (30.0, 300.0))
        self.assertEqual(s.command[1:3], ("--listen", "127.0.0.1:{port}"))
        self.assertEqual((s.ready_timeout, s.drain_timeout, s.stop_timeout), (3.0, 60.0, 0.5))

    def test_durations(self):
        self.assertEqual([parse_duration(t) for t in ("250ms", "15s", "1.5s", "5m", "1h")],
                         [0.25, 15.0, 1.5, 300.0, 3600.0])
        self.assertEqual([parse_duration(t) for t in ("15", "s", "-1s", "1d", 15)], [None] * 5)

    def test_token_file_is_relative_to_the_policy(self):
        p = parse("token_file: ../keys/admin-token\n" + MINIMAL, "/etc/shop/autoscaler.yaml")
        self.assertEqual((p.token, p.token_file), (None, "/etc/shop/../keys/admin-token"))

    def test_the_dev_policy_loads_and_names_the_stacks_upstreams(self):
        p = load(REPO / "config" / "autoscaler.yaml")
        # The dev stack's admin API has a token (scripts/dev-keys): the policy reads it there.
        self.assertEqual(Path(p.token_file).resolve(), REPO / ".run" / "keys" / "admin-token")
        stack = yaml.safe_load((REPO / "config" / "stack.yaml").read_text())
        self.assertTrue(p.services)
        for s in p.services.values():
            self.assertIn(s.upstream, stack["upstreams"], f"{s.name}: upstream")


class Errors(unittest.TestCase):
    """Each bad policy: (what, the text, the location and a part of the message)."""

    CASES = [
        ("unknown top-level key", "admn: x\n" + MINIMAL, "1:1", "unknown key 'admn'"),
        ("unknown service key (a typo)", with_line(MINIMAL, "    max: 4\n",
                                                   "    max: 4\n    stabilisation: {}\n"),
         "7:5", "unknown key 'stabilisation'"),
        ("unknown stabilization key", with_line(MINIMAL, "    max: 4\n",
                                                "    max: 4\n    stabilization: { down: 5s }\n"),
         "7:22", "unknown key 'down'"),
        ("missing required key", with_line(MINIMAL, "    upstream: products\n", ""),
         "3:5", "'upstream' is required"),
        ("no services", "admin: http://x\n", "1:1", "'services' is required"),
        ("token and token_file", "token: a\ntoken_file: b\n" + MINIMAL, "2:13", "not both"),
        ("unknown metric", with_line(MINIMAL, "metric: in_flight", "metric: cpu"),
         "4:13", "'cpu' is not one of"),
        ("target not a number", with_line(MINIMAL, "target: 8", "target: eight"),
         "5:13", "expected a number"),
        ("target zero", with_line(MINIMAL, "target: 8", "target: 0"), "5:13", "more than 0"),
        ("p99 target must be a duration",
         with_line(with_line(MINIMAL, "metric: in_flight", "metric: p99_latency"),
                   "target: 8", "target: 0.25"), "5:13", "a duration"),
        ("max below min", with_line(MINIMAL, "    max: 4\n", "    min: 3\n    max: 2\n"),
         "7:10", "at least min (3)"),
        ("min zero", with_line(MINIMAL, "    max: 4\n", "    min: 0\n    max: 4\n"),
         "6:10", "at least 1"),
        ("max not an integer", with_line(MINIMAL, "max: 4", "max: 4.5"),
         "6:10", "expected an integer"),
        ("bad duration", with_line(MINIMAL, "    max: 4\n", "    max: 4\n    sync_period: 15\n"),
         "7:18", "duration"),
        ("tolerance out of range", with_line(MINIMAL, "    max: 4\n",
                                             "    max: 4\n    tolerance: 1.5\n"),
         "7:16", "from 0 to below 1"),
        ("bad port range", with_line(MINIMAL, "7102-7199", "7199-7102"), "7:12", "LOW-HIGH"),
        ("command not a list", with_line(MINIMAL, "    max: 4\n",
                                         "    max: 4\n    command: product-service\n"),
         "7:14", "non-empty list"),
        ("unknown placeholder in command",
         with_line(MINIMAL, "    max: 4\n", "    max: 4\n    command: [x, '{prot}']\n"),
         "7:18", "unknown placeholder {prot}"),
        ("key given twice", with_line(MINIMAL, "    max: 4\n", "    max: 4\n    max: 5\n"),
         "7:5", "given twice"),
        ("overlapping ports", MINIMAL + """\
  order:
    upstream: orders
    metric: in_flight
    target: 8
    max: 4
    ports: 7190-7210
""", "13:12", "overlaps the ports of product"),
        ("not YAML", "services: [\n", "2:1", "not valid YAML"),
        ("services not a mapping", "services: [a]\n", "1:11", "expected a mapping"),
    ]

    def test_bad_policies(self):
        for what, text, where, message in self.CASES:
            with self.subTest(what):
                with self.assertRaises(PolicyError) as caught:
                    parse(text, "config/autoscaler.yaml")
                error = str(caught.exception)
                self.assertTrue(error.startswith(f"config/autoscaler.yaml:{where}: "),
                                f"{what}: {error}")
                self.assertIn(message, error, what)

    def test_unreadable_file(self):
        with self.assertRaises(PolicyError) as caught:
            load("/nonexistent/autoscaler.yaml")
        self.assertIn("cannot read", str(caught.exception))


class Commands(unittest.TestCase):
    """How an instance is started: the policy's command, else the stack's launch file."""

    def test_policy_command_placeholders(self):
        argv, cwd = launch_command(("{bin_dir}/product-service", "--listen", "127.0.0.1:{port}",
                                    "--config", "{root}/config/services/product.yaml"),
                                   "/run", "product", "/repo", "/repo/build/bin", 7105)
        self.assertEqual(argv, ["/repo/build/bin/product-service", "--listen", "127.0.0.1:7105",
                                "--config", "/repo/config/services/product.yaml"])
        self.assertEqual(cwd, "/repo")

    def test_stack_launch_file_plus_listen(self):
        with tempfile.TemporaryDirectory() as run_dir:
            (Path(run_dir) / "launch").mkdir()
            (Path(run_dir) / "launch" / "product.json").write_text(json.dumps(
                {"argv": ["/b/product-service", "--config", "/r/product.yaml"], "cwd": "/r"}))
            argv, cwd = launch_command(None, run_dir, "product", "/repo", "/b", 7106)
            self.assertEqual(argv, ["/b/product-service", "--config", "/r/product.yaml",
                                    "--listen", "127.0.0.1:7106"])
            self.assertEqual(cwd, "/r")
            with self.assertRaises(RuntimeError) as caught:
                launch_command(None, run_dir, "order", "/repo", "/b", 7206)
            self.assertIn("launch/order.json", str(caught.exception))


if __name__ == "__main__":
    unittest.main(verbosity=2)
