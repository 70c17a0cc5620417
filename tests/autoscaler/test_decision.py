"""The autoscaler's decision (scripts/autoscale/decision.py) against a table of cases, one row
each, named after what it shows: the Kubernetes HPA's tolerance, not-ready instances, the
stabilization windows, the scale-up rate limit, the min/max clamp, and what happens without a
metric or without a ready instance."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from autoscale.decision import Inputs, Recommendations, decide  # noqa: E402

NOW = 10_000.0


def row(name, value, ready, expect, *, target=100, not_ready=0, min=1, max=50, up=0, down=0,
        past=(), reason=None):
    """`past`: earlier raw recommendations as (seconds ago, instances); `expect`: (raw,
    stabilized, limited, desired); `reason`: a part of the decision's reason."""
    return dict(name=name, value=value, ready=ready, expect=expect, target=target,
                not_ready=not_ready, min=min, max=max, up=up, down=down, past=past,
                reason=reason)


CASES = [
    # Tolerance: |value / target - 1| <= 0.1 changes nothing, on both sides.
    row("tolerance: 10% above target, no change", 110, 10, (10, 10, 10, 10), reason="tolerance"),
    row("tolerance: 10% below target, no change", 90, 10, (10, 10, 10, 10), reason="tolerance"),
    row("tolerance: 11% above target scales up", 111, 10, (12, 12, 12, 12)),
    row("tolerance: 11% below target scales down", 89, 10, (9, 9, 9, 9)),

    # Plain moves: ceil(ready x value / target).
    row("up: 2 ready at 1.5x target -> 3", 150, 2, (3, 3, 3, 3)),
    row("down: 4 ready at 0.25x target -> 1", 25, 4, (1, 1, 1, 1)),
    row("down: idle -> min", 0, 3, (0, 0, 0, 1), reason="clamped to min"),

    # Stabilization (scale-down window 300 s): the highest recommendation of the window wins.
    row("window: a spike 200 s ago holds the count", 10, 2, (1, 2, 2, 2), down=300,
        past=[(200, 4)], reason="scale-down window"),
    row("window: the spike 301 s ago has left, scale down", 10, 2, (1, 1, 1, 1), down=300,
        past=[(301, 4)]),
    row("window: down only as far as the window's highest", 10, 4, (1, 3, 3, 3), down=300,
        past=[(250, 3), (100, 2)]),
    row("window: the first decision after a start keeps the current count", 10, 4, (1, 4, 4, 4),
        down=300),
    row("window: a scale-up is not held by the scale-down window", 300, 2, (6, 6, 6, 6),
        down=300, past=[(10, 1)]),
    row("scale-up window: the lowest recommendation of the window wins", 300, 2, (6, 3, 3, 3),
        up=60, past=[(30, 3), (90, 1)], reason="scale-up window"),

    # Scale-up rate: at most max(2 x current, current + 4) per sync period.
    row("limit: 1 instance -> at most 5", 10_000, 1, (100, 100, 5, 5), reason="rate limit"),
    row("limit: 10 instances -> at most 20", 1_000, 10, (100, 100, 20, 20), max=100,
        reason="rate limit"),
    row("limit: 3 instances -> 7 is within max(6, 7)", 230, 3, (7, 7, 7, 7)),

    # Clamp to [min, max].
    row("clamp: above max -> max", 500, 2, (10, 10, 6, 4), max=4, reason="clamped to max"),
    row("clamp: below min -> min", 10, 4, (1, 1, 1, 2), min=2, reason="clamped to min"),
    row("clamp: fewer instances than min -> min at once, even without a metric", None, 1,
        (None, 3, 3, 3), min=3, reason="below min"),
    row("clamp: more instances than max -> max at once", 100, 6, (None, 4, 4, 4), max=4,
        reason="above max"),

    # Not-ready instances count as 0 on a scale-up (HPA: unready pods).
    row("not ready: counted as 0, still up", 250, 2, (5, 5, 5, 5), not_ready=1),
    row("not ready: counted as 0, within tolerance -> no change", 212, 2, (4, 4, 4, 4),
        not_ready=2, reason="within tolerance"),
    row("not ready: counted as 0 the scale-up turns into a scale-down -> no change", 150, 2,
        (4, 4, 4, 4), not_ready=2, reason="turn"),
    row("not ready: ignored on a scale-down", 25, 2, (1, 1, 1, 1), not_ready=2),

    # No metric, no ready instance: no recommendation, no change.
    row("missing metric: no change", None, 3, (None, 3, 3, 3), reason="missing metric"),
    row("zero ready instances: no change", 0, 0, (None, 2, 2, 2), not_ready=2,
        reason="no ready instances"),
    row("zero instances (all gone): min at once", None, 0, (None, 1, 1, 1),
        reason="below min"),
]


class DecisionTable(unittest.TestCase):
    def test_cases(self):
        for case in CASES:
            with self.subTest(case["name"]):
                history = Recommendations(case["up"], case["down"])
                history._records = sorted((NOW - ago, n) for ago, n in case["past"])
                d = decide(Inputs(case["value"], case["target"], case["ready"], case["not_ready"],
                                  case["min"], case["max"]), history, NOW)
                self.assertEqual((d.raw, d.stabilized, d.limited, d.desired), case["expect"],
                                 f"{case['name']}: {d}")
                self.assertEqual(d.current, case["ready"] + case["not_ready"])
                if case["reason"]:
                    self.assertIn(case["reason"], d.reason, f"{case['name']}: {d}")

    def test_names_are_unique(self):
        names = [c["name"] for c in CASES]
        self.assertEqual(len(names), len(set(names)))


class DecisionOverTime(unittest.TestCase):
    """A spike, then quiet: the count stays for the scale-down window, then drops at once."""

    def test_spike_then_quiet(self):
        history = Recommendations(scale_up_window=0, scale_down_window=300)
        instances, seen = 1, []
        for t in range(0, 700, 15):
            per_instance = (400 if t < 60 else 20) / instances  # load spread over instances
            d = decide(Inputs(per_instance, 100, instances, 0, 1, 10), history, float(t))
            instances = d.desired
            seen.append((t, instances))
        self.assertEqual(dict(seen)[0], 4, seen)              # up at the first sync
        self.assertEqual(max(n for _, n in seen), 4, seen)
        last_high = 45                                          # the last sync seeing the spike
        held = [n for t, n in seen if last_high <= t < last_high + 300]
        self.assertEqual(set(held), {4}, seen)                  # held through the window
        self.assertEqual(dict(seen)[last_high + 300], 1, seen)  # then straight to 1


if __name__ == "__main__":
    unittest.main(verbosity=2)
