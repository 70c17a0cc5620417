#!/usr/bin/env python3
"""round_robin with equal weights: 3 backends, 30 requests, exactly 10 each (workers: 1)."""
from collections import Counter

from harness import run, simple_config


def test(h):
    backends = [h.backend(name) for name in ("a", "b", "c")]
    lb = h.balancer(simple_config(0, [b.port for b in backends], workers=1,
                                  balance="round_robin"))

    with h.step("30 requests on new connections: 10 per backend"):
        seen = [lb.get(f"/rr/{i}").header("X-Backend") for i in range(30)]
        h.expect_eq(dict(Counter(seen)), {"a": 10, "b": 10, "c": 10},
                    f"requests per backend (order: {''.join(s or '?' for s in seen)})")

    with h.step("30 requests on one keep-alive connection: 10 per backend"):
        conn = lb.connection()
        seen = []
        for i in range(30):
            conn.request("GET", f"/rr-ka/{i}")
            r = conn.getresponse()
            r.read()
            seen.append(r.getheader("X-Backend"))
        conn.close()
        h.expect_eq(dict(Counter(seen)), {"a": 10, "b": 10, "c": 10},
                    f"requests per backend (order: {''.join(s or '?' for s in seen)})")

    with h.step("the backends' own counts agree"):
        counts = {b.name: b.stats()["by_path"] for b in backends}
        for name, by_path in counts.items():
            n = sum(v for k, v in by_path.items() if k.startswith("GET /rr"))
            h.expect_eq(n, 20, f"requests backend {name} served")


if __name__ == "__main__":
    run(test)
