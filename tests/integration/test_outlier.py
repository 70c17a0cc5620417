#!/usr/bin/env python3
"""Passive ejection: a backend that answers 500s is ejected after consecutive_failures (no
more traffic, the other backend serves everything), and readmitted once its ejection time is
over and its active health check passes; a second ejection lasts twice as long. The cap:
with max_ejection_percent 50 of two backends, the second failing backend stays in."""
import time

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for

HEALTH = ("{ path: /health, interval: 200ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 2 }")


def config(port, admin_port, ports):
    text = simple_config(port, ports, workers=2, health_check=HEALTH, retries=0,
                         extra_top=f"admin: {{ address: 127.0.0.1:{admin_port} }}")
    return text.replace("    retries: 0\n", """    retries: 0
    outlier_detection: { consecutive_failures: 3, base_ejection_time: 1s,
                         max_ejection_time: 10s, max_ejection_percent: 50 }
""")


def test(h):
    a, b = h.backend("a"), h.backend("b")
    port, admin_port = free_port(), free_port()
    lb = h.balancer(config(port, admin_port, [a.port, b.port]), port)
    addr_b = f"127.0.0.1:{b.port}"
    h.expect(wait_for(lambda: port_accepts(admin_port), 5), "admin port listening")

    def backend_json(addr):
        r = http_request(admin_port, "GET", "/upstreams", timeout=5)
        return {x["address"]: x for x in r.json()["upstreams"][0]["backends"]}[addr]

    with h.step("both backends serve"):
        h.expect(wait_for(lambda: lb.get("/x").status == 200, 10), "traffic flows")
        seen = {lb.get(f"/start/{i}").header("X-Backend") for i in range(10)}
        h.expect_eq(seen, {"a", "b"}, "backends answering")

    with h.step("b answers 500s -> ejected: every request goes to a"):
        b.request("POST", "/admin/fail?code=500")
        # The ejection comes after this: measuring from here, a correct ejection time is never
        # seen shorter than it is, however slow the machine.
        failing_since = time.monotonic()
        statuses = [lb.get(f"/fail/{i}").status for i in range(20)]
        fails = statuses.count(500)
        print(f"   500s seen before the ejection: {fails}")
        # 3 in a row per backend, counted over both workers: at most a few slip through.
        h.expect(3 <= fails <= 8, f"500s before the ejection: {fails}")
        h.expect(backend_json(addr_b)["ejected"], "b shows as ejected")
        h.expect_eq(backend_json(addr_b)["ejections"], 1, "ejections counted")
        # `proxied`: the health checker goes on probing an ejected backend; those do not count.
        before = b.stats()["proxied"]
        answers = [lb.get(f"/ejected/{i}") for i in range(20)]
        h.expect_eq({(r.status, r.header("X-Backend")) for r in answers}, {(200, "a")},
                    "answers while b is ejected")
        h.expect_eq(b.stats()["proxied"], before, "proxied requests reaching b while ejected")

    with h.step("b still failing when the time is over: it comes back, fails, goes out again"):
        # Its /health passes (only requests fail), so it returns after 1 s, then is ejected
        # again for 2 s (base * 2).
        h.expect(wait_for(lambda: not backend_json(addr_b)["ejected"], 15), "readmitted")
        back = time.monotonic() - failing_since
        print(f"   readmitted {back:.2f}s after b began failing (base_ejection_time 1s)")
        h.expect(back >= 0.9, f"readmitted {back:.2f}s after b began failing: before its 1 s")
        failing_again_since = time.monotonic()
        for i in range(20):
            lb.get(f"/again/{i}")
        h.expect(backend_json(addr_b)["ejected"], "ejected again")
        h.expect_eq(backend_json(addr_b)["ejections"], 2, "ejections")

    with h.step("b heals -> readmitted after the (doubled) ejection time, gets traffic"):
        b.request("POST", "/admin/fail?code=0")
        h.expect(wait_for(lambda: not backend_json(addr_b)["ejected"], 15), "readmitted")
        back = time.monotonic() - failing_again_since
        print(f"   readmitted {back:.2f}s after the second run of 500s began (ejection: 2s)")
        h.expect(back >= 1.8, f"second ejection shorter than 2s: readmitted {back:.2f}s after "
                              f"the 500s that caused it began")
        answers = [lb.get(f"/healed/{i}") for i in range(20)]
        h.expect_eq({r.status for r in answers}, {200}, "statuses after readmission")
        h.expect("b" in {r.header("X-Backend") for r in answers}, "b serves again")

    with h.step("the cap: with both failing only one of two is ejected"):
        a.request("POST", "/admin/fail?code=503")
        b.request("POST", "/admin/fail?code=503")
        for i in range(30):
            lb.get(f"/both/{i}")
        r = http_request(admin_port, "GET", "/upstreams", timeout=5)
        ejected = [x["ejected"] for x in r.json()["upstreams"][0]["backends"]]
        h.expect_eq(sorted(ejected), [False, True], "ejected flags with max_ejection_percent 50")
        a.request("POST", "/admin/fail?code=0")
        b.request("POST", "/admin/fail?code=0")


if __name__ == "__main__":
    run(test)
