"""The registry of scenarios: every module in this folder registers its scenario(s) when
imported, and this package imports them all.

Adding a scenario (cache, compression, static files, HTTP/2, gRPC, ...) is one file here:

    from ..scenario import Scenario
    from . import register

    @register
    class Cache(Scenario):
        name = "cache"
        description = "responses served from the proxy's cache"
        order = 90                       # after accesslog in --help, points and the report
        points = ("1:64:/", "2:1000:/")  # its points in the default matrix
        quick_points = ("1:64:/",)
        def config(self, bench, run, base):   # each peer's config fragment (PeerConfig)
            ...

It then shows in --help, runs in the default matrix, and fills the report's table named by
its `table` ("main" for one row per target with ratios to HAProxy, "feature" for the routes
of one balancer config with ratios to the route without the feature). See
comparelib/scenario.py for everything a scenario may override, and plain.py, tls.py and
jwt.py for examples. tests/perf/test_compare_scenarios.py checks that each registered
scenario provides what the runner needs."""
import importlib
import pkgutil

REGISTRY = {}


def register(cls):
    """Class decorator: registers one instance of the scenario class under its name."""
    scenario = cls()
    if not scenario.name or scenario.name in REGISTRY:
        raise ValueError(f"{cls.__name__}: scenario name {scenario.name!r} missing or taken")
    REGISTRY[scenario.name] = scenario
    return cls


def ordered():
    """Every scenario, in its order."""
    return sorted(REGISTRY.values(), key=lambda s: (s.order, s.name))


def get(name):
    return REGISTRY[name]


def names():
    return [s.name for s in ordered()]


def default_names(quick=False):
    """The default --scenarios (with --quick: the quick ones)."""
    return [s.name for s in ordered() if (s.quick if quick else s.default)]


def default_points(quick=False):
    """The default --points (with --quick: the quick ones), WORKERS:CONNS:PATH[:SCENARIO]."""
    return [p if s.name == "plain" else f"{p}:{s.name}"
            for s in ordered() for p in (s.quick_points if quick else s.points)]


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
