#!/usr/bin/env python3
"""`upstreams.NAME.slow_start` end to end (README "Passive ejection (outlier detection) and
slow start"): a backend that recovers its health check starts at 10% of its weight and ramps
to 100% over the window, so its share of round-robin traffic grows in phases instead of
jumping to its full half at once.

Each phase reads the backend's `effective_weight` from GET /upstreams before and after its
requests and checks the share against that range (so a slow machine only moves the phases
along the ramp), plus bounds that do not depend on timing: early, well below half; at the
end of the window, exactly half."""
import json

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for

WINDOW = "20s"
REQUESTS = 40  # per phase, on one keep-alive connection (one worker: exact round robin)
HEALTH = ("{ path: /health, interval: 200ms, timeout: 500ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")
SLACK = 0.12   # of the share: round-robin rounding and the weight moving during a phase


def share(weight):
    """b's share of round robin against a (weight 1) when b's effective weight is `weight`."""
    return weight / (1 + weight)


def test(h):
    a, b = h.backend("a"), h.backend("b")
    port, admin_port = free_port(), free_port()
    text = simple_config(port, [a.port, b.port], workers=1, health_check=HEALTH, retries=0,
                         extra_top=f"admin: {{ address: 127.0.0.1:{admin_port} }}")
    text = text.replace("    retries: 0\n", f"    retries: 0\n    slow_start: {WINDOW}\n")
    lb = h.balancer(text, port)
    h.expect(wait_for(lambda: port_accepts(admin_port), 5), "admin port listening")
    addr_b = f"127.0.0.1:{b.port}"

    def state_b():
        r = http_request(admin_port, "GET", "/upstreams", timeout=5)
        for x in json.loads(r.body)["upstreams"][0]["backends"]:
            if x["address"] == addr_b:
                return x
        raise AssertionError(f"{addr_b} not listed")

    def phase(tag):
        """(b's answers of REQUESTS, b's effective weight before, after)."""
        before = state_b()["effective_weight"]
        conn = lb.connection(timeout=10)
        try:
            got = [http_request(port, "GET", f"/{tag}/{i}", conn=conn).header("X-Backend")
                   for i in range(REQUESTS)]
        finally:
            conn.close()
        after = state_b()["effective_weight"]
        n = got.count("b")
        print(f"   {tag}: b answered {n} of {REQUESTS}; effective weight {before} -> {after}")
        return n, before, after

    def expect_share(n, before, after, what):
        low, high = share(before) - SLACK, share(after) + SLACK
        h.expect(low * REQUESTS <= n <= high * REQUESTS,
                 f"{what}: b answered {n} of {REQUESTS}, expected {low * REQUESTS:.1f} to "
                 f"{high * REQUESTS:.1f} for effective weights {before} to {after}")

    with h.step("b fails its health check: a answers everything"):
        b.set_healthy(False)
        h.expect(wait_for(lambda: not state_b()["healthy"], 10), "b marked down")
        conn = lb.connection(timeout=10)
        got = {http_request(port, "GET", f"/down/{i}", conn=conn).header("X-Backend")
               for i in range(10)}
        conn.close()
        h.expect_eq(got, {"a"}, "backends answering")

    with h.step("b recovers: its weight restarts at 10% and it gets a small share"):
        b.set_healthy(True)
        h.expect(wait_for(lambda: state_b()["healthy"] and state_b()["effective_weight"] < 1,
                          10), f"b up and ramping ({state_b()})")
        n1, before, after = phase("early")
        h.expect(0.1 <= before <= 0.5, f"effective weight at the start of the ramp: {before}")
        expect_share(n1, before, after, "early")
        h.expect(1 <= n1 < REQUESTS * 0.4, f"early: b answered {n1} of {REQUESTS}: some, and "
                 f"well below its full half")

    with h.step("half way: a larger share"):
        h.expect(wait_for(lambda: state_b()["effective_weight"] >= 0.55, 30),
                 "the weight passes 0.55")
        n2, before, after = phase("middle")
        expect_share(n2, before, after, "middle")
        h.expect(n2 > n1, f"middle share ({n2}) above the early one ({n1})")

    with h.step("after the window: b's full half"):
        h.expect(wait_for(lambda: state_b()["effective_weight"] == 1, 40, interval=0.2),
                 f"the weight reaches 1 ({state_b()['effective_weight']})")
        n3, _, _ = phase("late")
        h.expect(REQUESTS // 2 - 1 <= n3 <= REQUESTS // 2 + 1,
                 f"late: b answered {n3} of {REQUESTS}, expected half")


if __name__ == "__main__":
    run(test)
