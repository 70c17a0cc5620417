#!/usr/bin/env python3
"""Pooled upstream connections the backend closed behind the balancer's back, and the retry
budget: a body-less GET on a stale pooled connection is sent again on a fresh one; connect
failures are retried on another backend `retries` times, no more; all backends dead -> 502
at once, not a hang."""
import time
from collections import Counter

from harness import free_port, run, simple_config

POOL = "{ max_idle: 16, idle_timeout: 30s }"


def outcomes(lb, n, path, pause=0.0):
    """(status, backend) of n GETs on new client connections, `pause` s apart."""
    seen = []
    for i in range(n):
        r = lb.get(f"{path}/{i}", timeout=10)
        seen.append((r.status, r.header("X-Backend")))
        time.sleep(pause)
    return Counter(seen)


def test(h):
    with h.step("a backend that drops every 4th request on a connection (closes it as the "
                "request arrives): 60 GETs all succeed, sent again on fresh connections"):
        backend = h.backend("max3", max_requests_per_conn=3)
        port = free_port()
        lb = h.balancer(simple_config(port, [backend.port], pool=POOL), port)
        h.expect_eq(dict(outcomes(lb, 60, "/max3")), {(200, "max3"): 60},
                    "(status, backend) of 60 GETs on new client connections")
        conn = lb.connection(timeout=10)
        statuses = Counter()
        for i in range(30):
            conn.request("GET", f"/max3-keepalive/{i}")
            r = conn.getresponse()
            r.read()
            statuses[r.status] += 1
        conn.close()
        h.expect_eq(dict(statuses), {200: 30}, "statuses of 30 GETs on one client connection")
        stats = backend.stats()
        print(f"   backend: {stats['requests']} requests answered, {stats['dropped']} dropped, "
              f"{stats['connections']} connections")
        h.expect(stats["dropped"] >= 10, f"only {stats['dropped']} requests were sent on a "
                                         f"connection being closed: the test did not test much")

    with h.step("a backend closing connections idle for 300 ms: GETs spaced 150-450 ms apart "
                "(on and around the moment it closes) all succeed"):
        backend = h.backend("idle300", idle_close_ms=300)
        port = free_port()
        lb = h.balancer(simple_config(port, [backend.port], pool=POOL), port)
        seen = Counter()
        for i, pause_ms in enumerate(range(150, 451, 15)):
            r = lb.get(f"/idle/{i}", timeout=10)
            seen[(r.status, r.header("X-Backend"))] += 1
            if r.status != 200:
                print(f"   after a {pause_ms} ms pause: {r.status} {r.body[:200]!r}")
            time.sleep(pause_ms / 1000)
        h.expect_eq(dict(seen), {(200, "idle300"): sum(seen.values())}, "(status, backend)")

    good = h.backend("good")
    dead = [free_port(), free_port()]       # nothing listens: connections are refused

    def lb_with_dead(retries, weights):
        """Backends dead1, dead2 and good with these weights: the dead ones are picked first
        nearly every time, so only the retry budget decides whether good is reached."""
        port = free_port()
        # connect_timeout long: a try that waited for it (instead of failing on the refusal)
        # would take 10 s, far beyond the bounds below.
        config = simple_config(port, [dead[0], dead[1], good.port], retries=retries, pool=POOL,
                               connect_timeout="10s", request_timeout="60s")
        for p, w in zip((dead[0], dead[1], good.port), weights):
            config = config.replace(f"127.0.0.1:{p}, weight: 1", f"127.0.0.1:{p}, weight: {w}")
        return h.balancer(config, port)

    with h.step("retries: 2 with two refusing backends: every GET reaches the good one"):
        lb = lb_with_dead(2, (10, 10, 1))
        h.expect_eq(dict(outcomes(lb, 20, "/r2")), {(200, "good"): 20}, "(status, backend)")

    with h.step("retries: 1 with two refusing backends: at most two tries, so some GETs get a "
                "502 (fast), the others reach the good backend"):
        lb = lb_with_dead(1, (10, 10, 1))
        start = time.monotonic()
        seen = outcomes(lb, 20, "/r1")
        elapsed = time.monotonic() - start
        print(f"   {dict(seen)} in {elapsed:.2f}s")
        h.expect(set(seen) <= {(200, "good"), (502, None)},
                 f"answers other than 200 from good or 502: {dict(seen)}")
        h.expect(seen[(502, None)] > 0, f"no 502 in 20 GETs: more than one retry was made "
                                        f"({dict(seen)})")
        h.expect(elapsed < 10, f"20 GETs took {elapsed:.1f}s (one try waiting for "
                               f"connect_timeout would take 10 s)")
        r = lb.get("/r1-json", timeout=10)
        if r.status == 502:
            h.expect_error_json(r, 502, "GET whose tries all hit refusing backends")

    with h.step("retries: 0: a refused connection is not retried"):
        lb = lb_with_dead(0, (1, 1, 1))
        seen = outcomes(lb, 30, "/r0")
        h.expect_eq(dict(seen), {(200, "good"): 10, (502, None): 20},
                    "(status, backend) of 30 GETs, round-robin over 2 dead and 1 good")

    with h.step("a POST refused a connection is retried too (nothing of it was sent), "
                "with its body, within retries"):
        lb = lb_with_dead(2, (1, 1, 1))
        seen = Counter()
        for i in range(30):
            body = b"post-%d-" % i * 20
            r = lb.request("POST", "/echo", body=body, timeout=10)
            seen[(r.status, r.header("X-Backend"), r.body == body)] += 1
        h.expect_eq(dict(seen), {(200, "good", True): 30},
                    "(status, backend, body echoed) of 30 POSTs")
        lb = lb_with_dead(0, (1, 1, 1))
        statuses = Counter(lb.request("POST", f"/post/{i}", body=b"x" * 100, timeout=10).status
                           for i in range(30))
        h.expect_eq(dict(statuses), {200: 10, 502: 20}, "statuses of 30 POSTs with retries: 0")

    with h.step("every backend refusing: 502 JSON at once, not a hang"):
        port = free_port()
        lb = h.balancer(simple_config(port, [free_port(), free_port(), free_port()],
                                      retries=2, connect_timeout="10s", request_timeout="60s"),
                        port)
        for i in range(5):
            r = lb.get(f"/all-dead/{i}", timeout=70)
            h.expect_error_json(r, 502, f"GET #{i}")
            # A hang would last connect_timeout (10 s) per try.
            h.expect(r.elapsed < 5.0, f"GET #{i}: 502 after {r.elapsed:.2f}s (connect_timeout "
                                      f"10 s)")


if __name__ == "__main__":
    run(test)
