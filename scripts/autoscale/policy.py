"""The autoscaler's policy (config/autoscaler.yaml): which services to scale, on what metric,
between which bounds. Read from YAML nodes rather than plain values, so that every error names
the file, line and column it comes from; unknown keys are errors (a typo must not silently
leave a default in force)."""
import os
import re
import string
from dataclasses import dataclass

import yaml

METRICS = ("in_flight", "requests_per_second", "p99_latency")
PLACEHOLDERS = ("port", "root", "bin_dir")

_TOP_KEYS = ("admin", "token", "token_file", "prometheus", "services")
_SERVICE_KEYS = ("upstream", "metric", "target", "min", "max", "sync_period", "tolerance",
                 "stabilization", "ports", "command", "ready_timeout", "drain_timeout",
                 "stop_timeout")
_STABILIZATION_KEYS = ("scale_up", "scale_down")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"


class PolicyError(Exception):
    """A policy that cannot be used; the message starts with file:line:column."""


@dataclass(frozen=True)
class ServicePolicy:
    name: str                   # the service, as in <name>-service and file names
    upstream: str               # its upstream in the balancer
    metric: str                 # one of METRICS
    target: float               # per instance; p99_latency: seconds
    min: int
    max: int
    sync_period: float          # seconds
    tolerance: float
    scale_up_window: float      # seconds: scale-up takes the lowest recommendation of these
    scale_down_window: float    # seconds: scale-down takes the highest recommendation of these
    ports: range
    command: tuple | None       # argv with {port} {root} {bin_dir}; None: the stack's launch file
    ready_timeout: float
    drain_timeout: float
    stop_timeout: float


@dataclass(frozen=True)
class Policy:
    path: str
    admin: str
    token: str | None
    token_file: str | None      # read when the autoscaler starts (relative: to the policy's folder)
    prometheus: str | None      # None: never ask Prometheus, scrape the balancer
    services: dict              # name -> ServicePolicy, in file order
    # The top keys the file sets: the others may come from the stack (scripts/autoscaler).
    given: frozenset = frozenset()


def parse_duration(text):
    """'250ms', '15s', '5m', '1h' -> seconds; None when `text` is no duration."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


class _Reader:
    """Values out of YAML nodes, each error located at its node."""

    def __init__(self, path):
        self.path = path
        self._constructor = yaml.SafeLoader("")

    def error(self, node, message):
        mark = node.start_mark
        return PolicyError(f"{self.path}:{mark.line + 1}:{mark.column + 1}: {message}")

    def mapping(self, node, what, allowed, required=()):
        """{key: (key node, value node)} of a mapping with only `allowed` keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what}: expected a mapping")
        out = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if allowed is not None and key not in allowed:
                raise self.error(key_node, f"{what}: unknown key '{key}' "
                                           f"(known: {', '.join(allowed)})")
            if key in out:
                raise self.error(key_node, f"{what}: '{key}' given twice")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                raise self.error(node, f"{what}: '{key}' is required")
        return out

    def scalar(self, node, what, tags, expected):
        if not isinstance(node, yaml.ScalarNode) or node.tag not in tags:
            raise self.error(node, f"{what}: expected {expected}")
        return self._constructor.construct_object(node, deep=True)

    def string(self, node, what):
        value = self.scalar(node, what, (_STR,), "a string")
        if not value:
            raise self.error(node, f"{what}: must not be empty")
        return value

    def integer(self, node, what, low):
        value = self.scalar(node, what, (_INT,), "an integer")
        if value < low:
            raise self.error(node, f"{what}: must be at least {low}")
        return value

    def number(self, node, what):
        return float(self.scalar(node, what, (_INT, _FLOAT), "a number"))

    def duration(self, node, what, positive):
        """Seconds from '250ms', '15s', '5m' (or a plain 0)."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT and node.value == "0":
            seconds = 0.0
        else:
            seconds = parse_duration(self.scalar(node, what, (_STR,), "a duration like 15s"))
            if seconds is None:
                raise self.error(node, f"{what}: expected a duration like 250ms, 15s or 5m")
        if positive and seconds <= 0:
            raise self.error(node, f"{what}: must be more than 0")
        return seconds

    def ports(self, node, what):
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
            low = high = int(node.value)
        else:
            text = self.scalar(node, what, (_STR,), "a port range like 7102-7199")
            m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
            if not m:
                raise self.error(node, f"{what}: expected a port range like 7102-7199")
            low, high = int(m.group(1)), int(m.group(2))
        if not 1024 <= low <= high <= 65535:
            raise self.error(node, f"{what}: expected LOW-HIGH with 1024 <= LOW <= HIGH <= 65535")
        return range(low, high + 1)

    def command(self, node, what):
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.error(node, f"{what}: expected a non-empty list (argv)")
        argv = []
        for item in node.value:
            arg = self.scalar(item, what, (_STR, _INT), "a string")
            arg = str(arg)
            try:
                names = [f for _, f, _, _ in string.Formatter().parse(arg) if f is not None]
            except ValueError as e:
                raise self.error(item, f"{what}: {e}") from None
            for name in names:
                if name not in PLACEHOLDERS:
                    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    raise self.error(item, f"{what}: unknown placeholder {{{name}}} "
                                           f"(known: {known})")
            argv.append(arg)
        return tuple(argv)


def load(path):
    """The Policy in the YAML file at `path`; raises PolicyError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise PolicyError(f"{path}: cannot read: {e.strerror}") from None
    return parse(text, str(path))


def parse(text, path="<policy>"):
    r = _Reader(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise PolicyError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if root is None:
        raise PolicyError(f"{path}: empty policy")
    top = r.mapping(root, "policy", _TOP_KEYS, required=("services",))

    admin = r.string(top["admin"][1], "admin") if "admin" in top else "http://127.0.0.1:9901"
    token = None
    if "token" in top and top["token"][1].tag != _NULL:
        token = r.string(top["token"][1], "token")
    token_file = None
    if "token_file" in top and top["token_file"][1].tag != _NULL:
        if token is not None:
            raise r.error(top["token_file"][1], "token_file: give token or token_file, not both")
        token_file = os.path.join(os.path.dirname(os.path.abspath(path)),
                                  r.string(top["token_file"][1], "token_file"))
    prometheus = "http://127.0.0.1:9090"
    if "prometheus" in top:
        node = top["prometheus"][1]
        if node.tag == _NULL or (node.tag == _BOOL and node.value.lower() == "false"):
            prometheus = None
        else:
            prometheus = r.string(node, "prometheus (a URL, or false)")

    services_node = top["services"][1]
    services = {}
    claimed = []  # (ports, service, node): two services must not start instances on one port
    for name, (key_node, node) in r.mapping(services_node, "services", None).items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise r.error(key_node, f"services: '{name}' is no service name (lowercase letters, "
                                    f"digits, '-', '_')")
        services[name], ports_node = _service(r, name, node)
        for other_ports, other, _ in claimed:
            if set(services[name].ports) & set(other_ports):
                raise r.error(ports_node, f"services.{name}.ports: overlaps the ports of {other}")
        claimed.append((services[name].ports, name, ports_node))
    if not services:
        raise r.error(services_node, "services: at least one service is needed")
    return Policy(path=path, admin=admin.rstrip("/"), token=token, token_file=token_file,
                  prometheus=prometheus.rstrip("/") if prometheus else None, services=services,
                  given=frozenset(k for k in top if k != "services"))


def _service(r, name, node):
    """(ServicePolicy, its ports node) of services.NAME."""
    where = f"services.{name}"
    keys = r.mapping(node, where, _SERVICE_KEYS,
                     required=("upstream", "metric", "target", "max", "ports"))

    def has(key):
        return key in keys

    def value(key):
        return keys[key][1]

    metric = r.string(value("metric"), f"{where}.metric")
    if metric not in METRICS:
        raise r.error(value("metric"), f"{where}.metric: '{metric}' is not one of "
                                       f"{', '.join(METRICS)}")
    if metric == "p99_latency":
        target = r.duration(value("target"), f"{where}.target (p99_latency: a duration)", True)
    else:
        target = r.number(value("target"), f"{where}.target")
        if target <= 0:
            raise r.error(value("target"), f"{where}.target: must be more than 0")

    low = r.integer(value("min"), f"{where}.min", 1) if has("min") else 1
    high = r.integer(value("max"), f"{where}.max", 1)
    if high < low:
        raise r.error(value("max"), f"{where}.max: must be at least min ({low})")

    tolerance = 0.1
    if has("tolerance"):
        tolerance = r.number(value("tolerance"), f"{where}.tolerance")
        if not 0 <= tolerance < 1:
            raise r.error(value("tolerance"), f"{where}.tolerance: must be from 0 to below 1")

    up, down = 0.0, 300.0
    if has("stabilization"):
        windows = r.mapping(value("stabilization"), f"{where}.stabilization", _STABILIZATION_KEYS)
        if "scale_up" in windows:
            up = r.duration(windows["scale_up"][1], f"{where}.stabilization.scale_up", False)
        if "scale_down" in windows:
            down = r.duration(windows["scale_down"][1], f"{where}.stabilization.scale_down", False)

    def seconds(key, default):
        return r.duration(value(key), f"{where}.{key}", True) if has(key) else default

    service = ServicePolicy(
        name=name,
        upstream=r.string(value("upstream"), f"{where}.upstream"),
        metric=metric,
        target=target,
        min=low,
        max=high,
        sync_period=seconds("sync_period", 15.0),
        tolerance=tolerance,
        scale_up_window=up,
        scale_down_window=down,
        ports=r.ports(value("ports"), f"{where}.ports"),
        command=r.command(value("command"), f"{where}.command") if has("command") else None,
        ready_timeout=seconds("ready_timeout", 20.0),
        drain_timeout=seconds("drain_timeout", 30.0),
        stop_timeout=seconds("stop_timeout", 15.0),
    )
    return service, value("ports")
