#!/usr/bin/env python3
"""stale-while-revalidate through the real balancer (issue 13, RFC 5861): within the window a
stale response is served at once (X-Cache: STALE, Age past its max-age) and refreshed once in
the background (however many clients and workers served it stale meanwhile); the next
request gets the refreshed object. Past the window the client waits for the revalidation."""
import threading
import time
from urllib.parse import quote

import socket

from harness import run, wait_for


def http_from(source_ip, port, target):
    """One GET from `source_ip` (another loopback address: another client for key: ip), the
    response head as text."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15,
                                 source_address=(source_ip, 0))
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return data.split(b"\r\n\r\n", 1)[0].decode()


def config(app_port):
    return f"""\
workers: 2
shutdown_timeout: 2s
cache_zones:
  edge: {{ memory: 8MiB, max_object: 1MiB }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{app_port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
routes:
  - match: {{ path_prefix: /cacheable }}
    upstream: app
    cache: {{ zone: edge }}
"""


def guarded_config(app_port):
    """A route whose filters run on the refresh too: a rate limit of a burst of 3 requests per
    address (then 1 a minute) and compression (their worker services must outlive the client that triggered
    the refresh)."""
    return f"""\
workers: 1
shutdown_timeout: 1s
cache_zones:
  edge: {{ memory: 8MiB, max_object: 1MiB }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{app_port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 20s
    read_timeout: 20s
routes:
  - match: {{ path_prefix: /cacheable }}
    upstream: app
    rate_limit: {{ rate: 1/m, burst: 3, key: ip, scope: local }}
    compress: {{ min_size: 1 }}
    cache: {{ zone: edge }}
"""


def origin_hits(app, path):
    return app.stats()["by_path"].get(f"GET {path}", 0)


def test(h):
    app = h.backend("app")
    lb = h.balancer(config(app.port))

    with h.step("stale within the window: served at once, refreshed once in the background"):
        path = "/cacheable/swr"
        # The origin takes 1 s: a stale answer that waited for it would show.
        u = f"{path}?cc={quote('max-age=3, stale-while-revalidate=30')}&ms=1000"
        first = lb.get(u)
        h.expect_eq(first.header("X-Cache"), "MISS", "first")
        time.sleep(3.5)
        results = [None] * 8

        def fetch(i):
            started = time.monotonic()
            r = lb.get(u, timeout=10)
            results[i] = (r, time.monotonic() - started)

        threads = [threading.Thread(target=fetch, args=(i,), daemon=True)
                   for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        for r, took in results:
            h.expect_eq(r.header("X-Cache"), "STALE", "X-Cache within the window")
            h.expect_eq(r.body, first.body, "the stored body")
            h.expect(int(r.header("Age")) >= 1, f"Age {r.header('Age')}")
            h.expect(took < 0.8, f"answered without waiting for the origin ({took:.3f} s)")
        h.expect(wait_for(lambda: origin_hits(app, path) == 2, 5), "one background refresh")
        time.sleep(1.5)  # the refresh's answer (1 s) is in and stored
        h.expect_eq(origin_hits(app, path), 2, "only one refresh for all of them")
        r = lb.get(u)
        h.expect_eq(r.header("X-Cache"), "HIT", "the refreshed object")
        h.expect(r.body != first.body, "the new body (the origin's second answer)")
        h.expect(r.body.startswith(b"origin hit 2 "), f"body {r.body[:20]!r}")

    with h.step("a 304 to the refresh freshens the stored object"):
        path = "/cacheable/swr304"
        cc, etag = quote("max-age=3, stale-while-revalidate=30"), quote('"e"')
        u = f"{path}?cc={cc}&etag={etag}"
        first = lb.get(u)
        time.sleep(3.5)
        h.expect_eq(lb.get(u).header("X-Cache"), "STALE", "served stale")
        h.expect(wait_for(lambda: app.stats()["not_modified"].get(path, 0) == 1, 5),
                 "the refresh got a 304")
        time.sleep(0.3)
        r = lb.get(u)
        h.expect_eq((r.header("X-Cache"), r.body), ("HIT", first.body), "fresh again, same body")

    with h.step("past the window the client waits for the revalidation"):
        path = "/cacheable/swrpast"
        u = f"{path}?cc={quote('max-age=1, stale-while-revalidate=1')}"
        lb.get(u)
        time.sleep(2.5)
        h.expect_eq(lb.get(u).header("X-Cache"), "MISS", "not served stale")
        h.expect_eq(origin_hits(app, path), 2, "origin requests")

    guarded = h.balancer(guarded_config(app.port))

    with h.step("the client that got the stale answer has closed: the refresh still runs safely, "
                "spending none of its rate-limit tokens"):
        path = "/cacheable/swrclose"
        u = f"{path}?cc={quote('max-age=1, stale-while-revalidate=60')}"
        close = {"Connection": "close", "Accept-Encoding": "gzip"}
        h.expect_eq(guarded.get(u, headers=close).header("X-Cache"), "MISS", "first")
        time.sleep(1.5)
        h.expect_eq(guarded.get(u, headers=close).header("X-Cache"), "STALE", "stale, then closed")
        h.expect(wait_for(lambda: origin_hits(app, path) == 2, 5), "the refresh reached the origin")
        h.expect(guarded.alive(), "the balancer is still running")
        # Stored once its answer is in: looked at from other addresses (each its own bucket).
        probes = iter(range(10, 200))
        h.expect(wait_for(lambda: "X-Cache: HIT" in http_from(f"127.0.0.{next(probes)}",
                                                              guarded.port, u), 10),
                 "the refreshed object is stored")
        r = guarded.get(u, headers=close)  # the 3rd of a burst of 3: the refresh took none
        h.expect_eq((r.status, r.header("X-Cache")), (200, "HIT"), "the refreshed object")

    with h.step("a refresh still waiting for a slow origin does not hold up the shutdown"):
        path = "/cacheable/swrslow"
        u = f"{path}?cc={quote('max-age=1, stale-while-revalidate=60')}&ms=8000"
        # Other addresses: 127.0.0.1 spent its burst above.
        first = http_from("127.0.0.3", guarded.port, u)
        h.expect(first.startswith("HTTP/1.1 200"), f"first (8 s): {first.splitlines()[:1]}")
        time.sleep(1.5)
        stale = http_from("127.0.0.2", guarded.port, u)
        h.expect("X-Cache: STALE" in stale, f"served stale: {stale.splitlines()[:1]}")
        time.sleep(0.3)  # the refresh now waits on the 8 s origin; no client is connected
        started = time.monotonic()
        code, killed = guarded.terminate(timeout=15)
        took = time.monotonic() - started
        h.expect_eq((code, killed), (0, False), "a clean exit")
        h.expect(took < 2.5, f"SIGTERM to exit took {took:.2f} s (shutdown_timeout 1 s)")


if __name__ == "__main__":
    run(test)
