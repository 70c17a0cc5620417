#!/usr/bin/env python3
"""Connections are reused: client keep-alive, and pooled upstream connections."""
from harness import http_request, run, simple_config

REQUESTS = 200
MAX_UPSTREAM_CONNECTIONS = 10   # with workers: 1


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], workers=1,
                                  pool="{ max_idle: 64, idle_timeout: 30s }"))

    with h.step(f"{REQUESTS} sequential requests on one client connection"):
        before = backend.stats()
        conn = lb.connection(timeout=10)
        local_ports = set()
        statuses = []
        for i in range(REQUESTS):
            r = http_request(lb.port, "GET", f"/req/{i}", conn=conn)
            statuses.append(r.status)
            if conn.sock is not None:
                local_ports.add(conn.sock.getsockname()[1])
            else:
                local_ports.add(f"closed after request {i}")
        conn.close()
        after = backend.stats()
        h.expect_eq(statuses.count(200), REQUESTS, "requests answered 200")
        h.expect_eq(len(local_ports), 1, "client connections used (the balancer must keep the "
                                         f"client connection open): {sorted(map(str, local_ports))[:5]}")
        served = after["requests"] - before["requests"]
        opened = after["connections"] - before["connections"] - 1   # minus the /stats call
        print(f"   backend: {served} requests over {opened} upstream connections")
        h.expect_eq(served, REQUESTS, "requests the backend served")
        h.expect(opened <= MAX_UPSTREAM_CONNECTIONS,
                 f"upstream connections opened: {opened} for {served} requests "
                 f"(expected <= {MAX_UPSTREAM_CONNECTIONS})")

    with h.step(f"{REQUESTS} requests, each on a new client connection, share pooled upstream "
                f"connections"):
        before = backend.stats()
        statuses = [lb.get(f"/fresh/{i}").status for i in range(REQUESTS)]
        after = backend.stats()
        h.expect_eq(statuses.count(200), REQUESTS, "requests answered 200")
        opened = after["connections"] - before["connections"] - 1
        print(f"   backend: {after['requests'] - before['requests']} requests over {opened} "
              f"upstream connections")
        h.expect(opened <= MAX_UPSTREAM_CONNECTIONS,
                 f"upstream connections opened: {opened} for {REQUESTS} requests from separate "
                 f"client connections (expected <= {MAX_UPSTREAM_CONNECTIONS})")


if __name__ == "__main__":
    run(test)
