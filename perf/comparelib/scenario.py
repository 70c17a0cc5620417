"""What a scenario is: the rows of a point, the config fragments each peer gets, the load wrk
puts through it, what is checked and measured besides, and how the report shows it. A
scenario file in scenarios/ subclasses Scenario (or FeatureScenario), overrides what differs
from plain HTTP keep-alive and registers itself."""
from dataclasses import dataclass, field

from .load import LoadSpec


@dataclass(frozen=True)
class Run:
    """One row of a point: a target (peer scenarios) or a route of one config (feature
    scenarios), served by one peer process."""
    name: str            # the row's name: "haproxy", "auth-uncached", "haproxy-open"
    peer: str            # the process that serves it: direct, haproxy, nginx or balancer
    route: str = ""      # prefix wrk puts before the point's path (the route strips it again)
    base: str = ""       # feature scenarios: the run this one is a ratio to ("open")
    label: str = ""      # feature scenarios: added to the route in the report (" uncached")


@dataclass
class PeerConfig:
    """What a scenario changes in a peer's config: another template (None: the peer's own)
    and placeholder values on top of the peer's."""
    template: str = None
    values: dict = field(default_factory=dict)


class Fixture:
    """Set-up shared by the scenarios naming it (TLS material, JWT keys, Redis): made once
    per run when a point needs it; it may add lines to the report's header, notes, and keys
    to the JSON (always, with empty values when not set up, so the JSON keeps its shape)."""

    def __init__(self, bench):
        self.bench = bench

    def setup(self, scenarios):
        """`scenarios`: the names of the run's scenarios that need it. Logs its own failure."""

    def header_lines(self, args, points):
        return []

    def notes(self):
        return []

    def json(self):
        return {}


class Scenario:
    name = ""              # as written in --points and --scenarios
    description = ""       # one line, shown by --help
    order = 100            # its place in lists: --help, the default points, the report
    default = True         # in the default --scenarios
    quick = False          # in --quick's --scenarios
    points = ()            # its points in the default matrix, "WORKERS:CONNS:PATH"
    quick_points = ()      # and in --quick's
    table = "main"         # the report's table: "main" (x HAProxy), "handshake", "feature"
    compares_peers = True  # False: balancer-only; HAProxy and nginx need not be installed
    tls = False            # wrk speaks HTTPS to the proxy (plain HTTP to the origin: no direct row)
    close = False          # wrk sends "Connection: close": one new connection per request
    tools = ()             # programs it needs in PATH
    arguments = ()         # its own flags: ((flag, ...), argparse keyword arguments)
    fixtures = ()          # Fixture classes it needs set up
    measured = ()          # extra row figures to take the median of (report, JSON)
    serves_files = False   # the peers serve the origin's files themselves (no proxying)
    # (row, peer row) pairs of one point the report sets side by side ("Against each peer"):
    # req/s and CPU per request of the row as a ratio to the peer's
    versus = ()

    # ---- which rows, and their processes ----------------------------------
    def runs(self, args):
        """The rows of each of its points, in run order, for args.targets."""
        return [Run(t, t) for t in args.targets if not (self.tls and t == "direct")]

    def unavailable(self, bench, run):
        """Why the run cannot start (a set-up it needs failed), or None."""
        return None

    def config(self, bench, run, base):
        """The run's peer config: template and values beyond the peer's own (`base`: the path
        prefix of the run's files, for files of its own such as a log)."""
        return PeerConfig()

    def ready(self, bench, run):
        """(path, headers) of the request that must answer the origin's body once it runs."""
        return run.route + "/", None

    def after_start(self, bench, run, port):
        """Once per start, before the warm-up (e.g. what TLS a client negotiates)."""

    def checks(self, bench, run, port):
        """What the config's routes must do, checked on each start: a list of surprises."""
        return []

    # ---- load and measurement ---------------------------------------------
    def load(self, bench, run, path, warmup):
        """What wrk sends for one run (warmup: the unmeasured run before it)."""
        return LoadSpec(path=run.route + path, tls=self.tls,
                        headers=("Connection: close",) if self.close else ())

    def helper_pids(self, bench):
        """{name: pids} of helpers whose CPU counts as ours (row '<name>_cpu_us_per_req')."""
        return {}

    def before_run(self, bench):
        """Counters read just before the measured run; handed to after_run."""
        return None

    def after_run(self, bench, before, row, requests):
        """Adds figures from counters read just after the measured run to the row."""


class FeatureScenario(Scenario):
    """A feature's cost on the balancer: one config with several routes to the origin (each
    with strip_prefix, so the origin sees the point's path), one run per route, the report
    giving each route as a ratio to the route without the feature."""
    table = "feature"
    compares_peers = False
    template = ""          # the balancer's config, every route in it
    variants = ()          # Run()s in run order, the base ("open") first
    title = ""             # the report's section: title and the paragraph under it
    text = ""
    columns = ()           # extra report columns: ((header, function(aggregate) -> cell), ...)
    all_good = "wrk counted 0 responses ≥ 400 and no socket errors on every route."

    def runs(self, args):
        if "balancer" not in args.targets:
            return []
        return [v for v in self.variants if v.peer == "balancer" or v.peer in args.targets]

    def values(self, bench, run, base):
        """Placeholder values of the template beyond the balancer's own."""
        return {}

    def config(self, bench, run, base):
        return PeerConfig(self.template, self.values(bench, run, base))

    def row_notes(self, run, route, wk, conns, a):
        """Anomalies of one aggregated row, for the report's notes."""
        return []
