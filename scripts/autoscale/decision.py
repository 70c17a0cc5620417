"""How many instances a service should run: the Kubernetes Horizontal Pod Autoscaler's
arithmetic (pkg/controller/podautoscaler: replica_calculator.go and horizontal.go), as pure
functions of the inputs and the recent recommendations, with no I/O and an injected clock.

    history = Recommendations(scale_up_window=0, scale_down_window=300)
    d = decide(Inputs(value=12, target=8, ready=2, not_ready=0, min=1, max=4), history, now)
    d.desired  # 3

The steps, each one a field of the Decision:
  raw        ceil(ready x value / target); the current count within the tolerance; on a
             scale-up, instances not ready count with a metric of 0 (no change when that
             brings the ratio within the tolerance or turns it round)
  stabilized scale-down: the highest recommendation of the scale-down window; scale-up: the
             lowest of the scale-up window
  limited    scale-up by at most max(2 x current, current + 4) per sync period
  desired    clamped to [min, max]
"""
import math
from dataclasses import asdict, dataclass

# Distances from the target and instance counts are rounded to this many decimals before
# comparing or rounding up, so that float noise (|1 - 1.1| = 0.10000000000000009,
# 1.1 x 10 = 11.000000000000002) neither leaves the tolerance nor costs an instance.
_DECIMALS = 9


@dataclass(frozen=True)
class Inputs:
    value: float | None     # the metric per ready instance (p99: as measured); None: missing
    target: float           # the metric's target per instance
    ready: int              # instances that take requests (healthy, not draining)
    not_ready: int          # instances registered or started but not healthy yet
    min: int
    max: int
    tolerance: float = 0.1


@dataclass(frozen=True)
class Decision:
    current: int
    raw: int | None         # None: no recommendation (missing metric, no ready instance)
    stabilized: int
    limited: int
    desired: int
    reason: str

    def fields(self):
        return asdict(self)


class Recommendations:
    """The raw recommendations of one service over time, for the stabilization windows
    (the HPA behavior API's stabilizationWindowSeconds)."""

    def __init__(self, scale_up_window, scale_down_window):
        self.scale_up_window = scale_up_window
        self.scale_down_window = scale_down_window
        self._records = []  # [(time, recommendation)], oldest first

    def stabilize(self, raw, current, now):
        """`raw` held within the windows' bounds, then recorded. The first call records the
        current count first (as the HPA does), so a restarted autoscaler does not scale down
        before one scale-down window has passed."""
        if not self._records and self.scale_down_window > 0:
            self._records.append((now, current))
        up_bound = raw    # the lowest recommendation of the scale-up window
        down_bound = raw  # the highest recommendation of the scale-down window
        for at, recommendation in self._records:
            if at > now - self.scale_up_window:
                up_bound = min(up_bound, recommendation)
            if at > now - self.scale_down_window:
                down_bound = max(down_bound, recommendation)
        stabilized = min(max(current, up_bound), down_bound)
        horizon = now - max(self.scale_up_window, self.scale_down_window)
        self._records = [(at, rec) for at, rec in self._records if at > horizon]
        self._records.append((now, raw))
        return stabilized


def raw_recommendation(value, target, ready, not_ready, tolerance):
    """(instances, reason) from the metric alone: replica_calculator's calcPlainMetricReplicas
    with the metric averaged over the ready instances. Requires ready > 0."""
    current = ready + not_ready
    ratio = value / target
    needed = math.ceil(round(value * ready / target, _DECIMALS))  # ceil(ready x ratio)
    if not_ready == 0 or ratio <= 1.0:
        if _within(ratio, tolerance):
            return current, "within tolerance"
        return needed, "metric"
    # A scale-up with instances not ready yet: they count with a metric of 0, since they will
    # take their share of the load once ready. The same total load over more instances:
    new_ratio = value * ready / (target * current)
    if _within(new_ratio, tolerance):
        return current, "within tolerance counting not-ready instances as 0"
    if new_ratio < 1.0 or needed < current:
        return current, "not-ready instances counted as 0 turn the scale-up round"
    return needed, "metric, not-ready instances counted as 0"


def _within(ratio, tolerance):
    return round(abs(1.0 - ratio), _DECIMALS) <= tolerance


def scale_up_limit(current):
    """The most instances one sync period may reach: the HPA's default scale-up policies
    (100 % or 4 pods per period, whichever allows more)."""
    return max(2 * current, current + 4)


def decide(inputs, history, now):
    """The Decision for one sync period. `history` (Recommendations) is updated."""
    current = inputs.ready + inputs.not_ready
    if current < inputs.min:
        return Decision(current, None, inputs.min, inputs.min, inputs.min, "below min")
    if current > inputs.max:
        return Decision(current, None, inputs.max, inputs.max, inputs.max, "above max")
    if inputs.value is None or math.isnan(inputs.value):
        return Decision(current, None, current, current, current, "missing metric")
    if inputs.ready == 0:
        return Decision(current, None, current, current, current, "no ready instances")

    raw, reason = raw_recommendation(inputs.value, inputs.target, inputs.ready,
                                     inputs.not_ready, inputs.tolerance)
    stabilized = history.stabilize(raw, current, now)
    if stabilized != raw:
        reason = ("scale-down window holds a higher recommendation" if stabilized > raw
                  else "scale-up window holds a lower recommendation")
    limited = stabilized
    if stabilized > current and stabilized > scale_up_limit(current):
        limited = scale_up_limit(current)
        reason = "scale-up rate limit"
    desired = min(max(limited, inputs.min), inputs.max)
    if desired != limited:
        reason = "clamped to max" if desired < limited else "clamped to min"
    return Decision(current, raw, stabilized, limited, desired, reason)
