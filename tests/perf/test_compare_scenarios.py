"""perf/compare's scenario registry (perf/comparelib/scenarios): every file in the folder
registers its scenario, and every scenario gives the runner what it needs: its points parse,
its rows name known peers, each row's config renders with no placeholder left, its load is
well formed, and the report shows its rows in the right table. No process is started (the
report's version probes are replaced)."""
import os
import pkgutil
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "perf"))

from comparelib import cli, report, scenarios  # noqa: E402
from comparelib.bench import Bench  # noqa: E402
from comparelib.load import RUNNERS, LoadSpec  # noqa: E402
from comparelib.origin import PATH_SIZES  # noqa: E402
from comparelib.peers import PEERS  # noqa: E402
from comparelib.scenario import FeatureScenario, Scenario  # noqa: E402
from comparelib.scenarios.jwt import JwtKeys  # noqa: E402
from comparelib.scenarios.ratelimit import RedisServer  # noqa: E402
from comparelib.templates import render  # noqa: E402
from comparelib.tls import TlsMaterial  # noqa: E402

# the scenarios perf/README.md, perf/report and the committed results name
KNOWN = ["plain", "close", "tls", "tls-handshake", "tls-resume", "jwt", "ratelimit", "accesslog",
         "compress"]
TABLES = {"main", "handshake", "feature"}


class Fixture(unittest.TestCase):
    """A bench in a temporary folder whose fixtures look set up (nothing is started)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.args = cli.parse_args(["--raw-dir", self.dir, "--results-dir", self.dir,
                                    "--balancer-bin", "/bin/true"])
        self.bench = Bench(self.args)
        certs = os.path.join(self.dir, "certs")
        self.bench.fixture(TlsMaterial).certs = certs
        self.bench.fixture(TlsMaterial).wrk_env = {n: {"OPENSSL_CONF": "x"} for n in
                                                   ("tls", "tls-handshake", "tls-resume")}
        jwt = os.path.join(self.dir, "jwt")
        self.bench.fixture(JwtKeys).keys = {"jwks": jwt + "/jwks.json", "pem": jwt + "/public.pem",
                                            "token": "a.b.cdefgh", "tokens_file": jwt + "/tokens.txt", "n": 4}
        self.bench.fixture(RedisServer).port = 6390

    def tearDown(self):
        self.tmp.cleanup()


class Registry(unittest.TestCase):
    def test_every_file_in_the_folder_registers_a_scenario(self):
        files = {m.name for m in pkgutil.iter_modules(scenarios.__path__)}
        registered = {type(s).__module__.rsplit(".", 1)[1] for s in scenarios.REGISTRY.values()}
        self.assertEqual(files, registered)

    def test_the_known_scenarios_are_registered_in_their_order(self):
        self.assertEqual([n for n in scenarios.names() if n in KNOWN], KNOWN)
        self.assertEqual(scenarios.default_names()[:4], ["plain", "close", "tls", "tls-handshake"])
        self.assertNotIn("tls-resume", scenarios.default_names())
        self.assertEqual(scenarios.default_names(quick=True)[:4], ["plain", "close", "tls", "tls-handshake"])
        self.assertNotIn("jwt", scenarios.default_names(quick=True))

    def test_a_name_is_registered_once(self):
        with self.assertRaises(ValueError):
            scenarios.register(type("Again", (Scenario,), {"name": "plain"}))

    def test_a_new_scenario_is_one_registration(self):
        cls = type("Extra", (Scenario,), {"name": "extra-test", "description": "d", "order": 1000,
                                          "points": ("1:64:/",), "quick_points": ("1:64:/",)})
        scenarios.register(cls)
        try:
            self.assertEqual(scenarios.names()[-1], "extra-test")
            self.assertIn("1:64:/:extra-test", scenarios.default_points())
            self.assertIn("extra-test", cli.build_parser().format_help())
            self.assertEqual(cli.parse_points("2:1000:/64k:extra-test"), [(2, 1000, "/64k", "extra-test")])
        finally:
            del scenarios.REGISTRY["extra-test"]

    def test_each_scenario_declares_what_the_runner_reads(self):
        for sc in scenarios.ordered():
            with self.subTest(sc.name):
                self.assertRegex(sc.name, r"^[a-z0-9-]+$")
                self.assertTrue(sc.description)
                self.assertIn(sc.table, TABLES)
                self.assertEqual(sc.table == "feature", isinstance(sc, FeatureScenario))
                if sc.default:
                    self.assertTrue(sc.points, "a default scenario has points in the default matrix")
                for flags, kwargs in sc.arguments:
                    self.assertTrue(flags[0].startswith("--"))
                for tool in sc.tools:
                    self.assertRegex(tool, r"^[a-z0-9_-]+$")


class Points(unittest.TestCase):
    def test_default_and_quick_points_parse_to_registered_scenarios(self):
        for quick in (False, True):
            pts = cli.parse_points(",".join(scenarios.default_points(quick)))
            self.assertTrue(pts)
            for wk, conns, path, sc in pts:
                self.assertIn(sc, scenarios.REGISTRY)
                self.assertIn(path, PATH_SIZES)
        self.assertEqual(cli.parse_points("1:64:/")[0], (1, 64, "/", "plain"))

    def test_unknown_scenarios_and_paths_are_refused(self):
        for bad in ("1:64:/:nope", "1:64:/x", "one:64:/"):
            with self.subTest(bad), self.assertRaises(SystemExit):
                cli.parse_points(bad)
        with self.assertRaises(SystemExit):
            cli.parse_args(["--scenarios", "plain,nope"])

    def test_help_lists_every_scenario_and_its_flags(self):
        text = cli.build_parser().format_help()
        for sc in scenarios.ordered():
            self.assertIn(f"{sc.name}: {sc.description}", text)
        for flag in ("--tls-version", "--jwt-tokens", "--proxies", "--points", "--scenarios", "--no-memory"):
            self.assertIn(flag, text)


class RunnerNeeds(Fixture):
    def test_rows_configs_and_loads(self):
        for sc in scenarios.ordered():
            runs = sc.runs(self.args)
            with self.subTest(sc.name):
                self.assertTrue(runs, "every target selected: the scenario has rows")
                self.assertEqual(len({r.name for r in runs}), len(runs))
            for run in runs:
                with self.subTest(sc.name, run=run.name):
                    self.check_run(sc, run)

    def check_run(self, sc, run):
        peer = PEERS[run.peer]
        if sc.tls:
            self.assertNotEqual(run.peer, "direct", "the origin speaks plain HTTP only")
        self.assertIsNone(sc.unavailable(self.bench, run))
        if run.peer != "direct":
            base = os.path.join(self.dir, f"{sc.name}-{run.name}")
            cfg = sc.config(self.bench, run, base)
            values = dict(peer.values(self.bench, 2, 1000, sc.tls), **cfg.values)
            conf = render(cfg.template or peer.template, base + peer.suffix, values)  # raises if unfilled
            text = Path(conf).read_text()
            if run.peer == "varnish":   # its address is on its command line, the origin's in the VCL
                self.assertIn(f"127.0.0.1:{self.bench.ports[run.peer]}", peer.argv(self.bench, conf))
                self.assertIn(f'.port = "{self.bench.origin.port}";', text)
            else:
                self.assertIn(f"127.0.0.1:{self.bench.ports[run.peer]}", text)
            if sc.serves_files:         # no origin: the origin's files, from its www/ folder
                self.assertIn(os.path.join(self.bench.raw, "www"), text)
            elif run.peer != "varnish":
                self.assertIn(f"127.0.0.1:{self.bench.origin.port}", text)
            if sc.tls:
                self.assertIn("shop.test", text, "the TLS scenarios give every peer the certificate")
        path, headers = sc.ready(self.bench, run)
        self.assertTrue(path.startswith("/"))
        for warmup in (True, False):
            spec = sc.load(self.bench, run, "/64k", warmup)
            self.assertIsInstance(spec, LoadSpec)
            self.assertIsNone(spec.error)
            self.assertTrue(spec.path.startswith(run.route + "/") and spec.path.endswith("/64k"), spec.path)
            self.assertEqual(spec.tls, sc.tls)
            self.assertIn(spec.tool, RUNNERS)
            self.assertTrue(os.path.exists(spec.script), spec.script)
            self.assertEqual("Connection: close" in spec.headers, sc.close)
            for h in spec.headers:
                self.assertRegex(h, r"^[A-Za-z-]+: \S")

    def test_feature_rows_compare_with_a_base_of_their_own(self):
        for sc in scenarios.ordered():
            if sc.table != "feature":
                continue
            with self.subTest(sc.name):
                self.assertTrue(sc.title and sc.text and sc.template)
                names = [v.name for v in sc.variants]
                self.assertEqual(sc.variants[0].name, sc.variants[0].base)
                for v in sc.variants:
                    self.assertIn(v.base, names)
                    self.assertLess(names.index(v.base), names.index(v.name) + 1, "the base runs first")
                    self.assertTrue(v.route.startswith("/"))
                self.assertEqual(sc.runs(cli.parse_args(["--proxies", "haproxy,nginx"])), [],
                                 "balancer-only: no rows without the balancer")

    def test_flags_of_a_scenario_shape_its_rows(self):
        jwt = scenarios.get("jwt")
        self.assertIn("auth-uncached", [r.name for r in jwt.runs(self.args)])
        args = cli.parse_args(["--jwt-tokens", "0", "--proxies", "balancer"])
        self.assertEqual([r.name for r in jwt.runs(args)], ["open", "auth"])
        self.assertEqual([r.name for r in scenarios.get("tls").runs(self.args)], ["haproxy", "nginx", "balancer"])
        self.assertEqual([r.name for r in scenarios.get("plain").runs(self.args)],
                         ["direct", "haproxy", "nginx", "balancer"])

    def test_an_unset_fixture_makes_the_rows_say_so(self):
        self.bench.fixture(JwtKeys).keys = {"error": "node not found"}
        jwt = scenarios.get("jwt")
        self.assertIn("node not found", jwt.unavailable(self.bench, jwt.variants[1]))
        self.bench.fixture(TlsMaterial).wrk_env = {}
        spec = scenarios.get("tls-handshake").load(self.bench, scenarios.get("tls").runs(self.args)[0], "/", False)
        self.assertTrue(spec.error.startswith("no wrk set-up for tls-handshake"))


def fake_row(target, rps, cpu, **more):
    row = {"target": target, "rps": rps, "p50_us": 500, "p99_us": 2000, "p999_us": 3000,
           "proxy_cpu_us_per_req": cpu, "origin_cpu_us_per_req": 5.0, "wrk_cpu_pct": 60.0,
           "other_cpu_pct": 1.0, "bytes_per_resp": 150.0, "origin_new_conns": 0, "requests": 1000,
           "connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, "errors": 0}
    row.update(more)
    return row


class Report(Fixture):
    """The report's tables keep their shape (scripts and perf/report read them)."""

    def setUp(self):
        super().setUp()
        self.saved = report.tool_version, report.balancer_version
        report.tool_version = lambda argv: f"{argv[0]} 1.0"
        report.balancer_version = lambda args: "balancer test"

    def tearDown(self):
        report.tool_version, report.balancer_version = self.saved
        super().tearDown()

    def test_main_and_feature_tables(self):
        plain, jwt = (1, 64, "/", "plain"), (1, 64, "/", "jwt")
        rows = {plain + (t,): [fake_row(t, rps, cpu)] for t, rps, cpu in
                (("direct", 90000, None), ("haproxy", 40000, 20.0), ("nginx", 30000, 25.0))}
        rows[plain + ("balancer",)] = [{"target": "balancer", "error": "not built"}]
        for t, rps, cpu in (("open", 40000, 20.0), ("auth", 36000, 22.0), ("auth-uncached", 10000, 80.0),
                            ("haproxy-open", 40000, 20.0), ("haproxy-auth", 8000, 100.0)):
            rows[jwt + (t,)] = [fake_row(t, rps, cpu)]
        results = {"points": [plain, jwt], "rows": rows, "retried": []}
        md = report.report(self.bench, self.args, results, [], time.time())
        self.assertIn("| workers | conns | path | target | req/s | ×HAP | p50 | p99 | p99 ×HAP | p99.9 | errors | "
                      "proxy CPU µs/req | origin CPU µs/req | new up conns | resp bytes | wrk CPU | other CPU |", md)
        self.assertIn("| 1 | 64 | / | haproxy | 40,000 | 1.00 | 0.50 | 2.00 | 1.00 | 3.00 | 0 | 20.0 | 5.0 | 0 | "
                      "150 | 60% | 1% |", md)
        self.assertIn("| 1 | 64 | / | nginx | 30,000 | 0.75 |", md)
        self.assertIn("| 1 | 64 | / | balancer | FAILED |", md)
        self.assertIn("- balancer at 1w/64c/: not built", md)
        self.assertIn("## JWT verification:", md)
        self.assertIn("| 1 | 64 | `/auth` | 36,000 | 0.90 | 0.50 | 2.00 | 1.00 | 3.00 | 0 | 22.0 | 1.10 | +2.0 |", md)
        self.assertIn("| 1 | 64 | `/auth` uncached | 10,000 | 0.25 |", md)
        self.assertIn("| 1 | 64 | HAProxy `/auth` | 8,000 | 0.20 |", md)
        self.assertNotIn("## TLS handshakes", md)
        out = os.path.join(self.dir, "c.json")
        report.write_json(out, self.bench, self.args, results, [], os.path.join(self.dir, "c.md"))
        import json
        doc = json.loads(Path(out).read_text())
        for key in ("tls", "tls_check", "tls_version", "jwt_token_bytes", "jwt_error", "redis_error", "points"):
            self.assertIn(key, doc)
        self.assertEqual(list(doc["points"][0]["targets"]), ["direct", "haproxy", "nginx", "balancer"])
        self.assertIn("redis_calls_per_req", doc["points"][0]["targets"]["haproxy"])

    def test_ratelimit_columns_and_checks(self):
        pt = (2, 64, "/", "ratelimit")
        rows = {pt + ("open",): [fake_row("open", 40000, 20.0, redis_calls_per_req=0.0)],
                pt + ("limited",): [fake_row("limited", 30000, 26.0, redis_calls_per_req=0.5,
                                             redis_cpu_us_per_req=9.0)],
                pt + ("local",): [fake_row("local", 39000, 21.0, redis_calls_per_req=0.0)]}
        md = report.report(self.bench, self.args, {"points": [pt], "rows": rows, "retried": []}, [], time.time())
        self.assertIn("| +µs/req | Redis CPU µs/req | Redis calls/req | wrk CPU | other CPU |", md)
        self.assertIn("| 2 | 64 | `/limited` | 30,000 | 0.75 | 0.50 | 2.00 | 1.00 | 3.00 | 0 | 26.0 | 1.30 | "
                      "+6.0 | 9.0 | 0.50 | 60% | 1% |", md)
        self.assertIn("0.500 Redis script calls per request (expected 1)", md)
        self.assertTrue(re.search(r"No response was a 429 or a 503", md))


if __name__ == "__main__":
    unittest.main(verbosity=2)
