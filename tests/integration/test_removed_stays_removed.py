#!/usr/bin/env python3
"""Runtime changes win over the YAML until the next restart (README "Admin API and runtime
backends"): a backend removed through the admin API (DELETE) stays removed across SIGHUP
reloads of a YAML that still lists it; the opposite admin call (POST) undoes the removal, and
that backend then stays across a reload; a reload whose YAML no longer has the upstream drops
its changes, so the YAML's backends are all back when the upstream returns."""
import json
import os
import re
import signal
from collections import Counter

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for


def test(h):
    a, b = h.backend("a"), h.backend("b")
    port, admin_port = free_port(), free_port()
    addr_b = f"127.0.0.1:{b.port}"

    def config(upstream="app", extra_route=False):
        text = simple_config(port, [a.port, b.port], workers=2, retries=0,
                             extra_top=f"admin: {{ address: 127.0.0.1:{admin_port} }}")
        if extra_route:  # a visible change, so that each reload really swaps the snapshot
            text += "  - match: { path_prefix: /extra }\n    upstream: app\n"
        return text.replace("  app:\n", f"  {upstream}:\n").replace(
            "    upstream: app\n", f"    upstream: {upstream}\n")

    lb = h.balancer(config(), port)
    h.expect(wait_for(lambda: port_accepts(admin_port), 5), "admin port listening")

    def admin(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        return http_request(admin_port, method, path, body=data, headers=headers, timeout=5)

    def backends(upstream="app"):
        for u in admin("GET", "/upstreams").json()["upstreams"]:
            if u["name"] == upstream:
                return {x["address"]: x for x in u["backends"]}
        return None

    def reloads():
        text = admin("GET", "/metrics").body.decode()
        m = re.search(r'^balancer_config_reloads_total\{result="success"\} (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0

    def reload(text):
        before = reloads()
        lb.config_path.write_text(text)
        os.kill(lb.pid, signal.SIGHUP)
        h.expect(wait_for(lambda: reloads() > before, 10), "the reload counted as a success")

    def spread(n, tag):
        """{backend: answers} of n requests on new connections (either worker)."""
        return Counter(lb.get(f"/{tag}/{i}").header("X-Backend") for i in range(n))

    with h.step("both backends serve"):
        h.expect_eq(set(spread(10, "start")), {"a", "b"}, "backends answering")

    with h.step("DELETE b: 202, b leaves, a serves everything"):
        h.expect_eq(admin("DELETE", f"/upstreams/app/backends/{addr_b}").status, 202, "DELETE")
        h.expect(wait_for(lambda: addr_b not in backends(), 10), f"b gone ({backends()})")
        h.expect_eq(spread(10, "deleted"), Counter({"a": 10}), "answers by backend")

    for n in (1, 2):
        with h.step(f"reload #{n} of a YAML that still lists b: b stays removed"):
            reload(config(extra_route=n % 2 == 1))
            h.expect_eq(sorted(backends()), [f"127.0.0.1:{a.port}"], "backends listed")
            before = b.stats()["requests"]
            h.expect_eq(spread(10, f"reload{n}"), Counter({"a": 10}), "answers by backend")
            h.expect_eq(b.stats()["requests"] - before, 0, "requests that reached b")

    with h.step("POST b again undoes the removal; b then stays across a reload"):
        r = admin("POST", "/upstreams/app/backends", {"address": addr_b, "weight": 1})
        h.expect_eq(r.status, 201, f"POST ({r.body[:200]!r})")
        h.expect(wait_for(lambda: addr_b in backends(), 5), "b listed again")
        reload(config(extra_route=True))
        h.expect_eq(sorted(backends()), sorted([f"127.0.0.1:{a.port}", addr_b]),
                    "backends listed")
        h.expect_eq(set(spread(10, "readded")), {"a", "b"}, "backends answering")

    with h.step("a reload without the upstream drops its changes; when it returns, so does b"):
        h.expect_eq(admin("DELETE", f"/upstreams/app/backends/{addr_b}").status, 202, "DELETE")
        h.expect(wait_for(lambda: addr_b not in backends(), 10), "b gone")
        reload(config(upstream="renamed"))
        h.expect_eq(backends("app"), None, "upstream app after the rename")
        reload(config())
        h.expect_eq(sorted(backends() or {}), sorted([f"127.0.0.1:{a.port}", addr_b]),
                    "backends listed")


if __name__ == "__main__":
    run(test)
