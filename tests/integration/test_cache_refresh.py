#!/usr/bin/env python3
"""stale-while-revalidate through the real balancer (issue 13, RFC 5861): within the window a
stale response is served at once (X-Cache: STALE, Age past its max-age) and refreshed once in
the background (however many clients and workers served it stale meanwhile); the next
request gets the refreshed object. Past the window the client waits for the revalidation."""
import threading
import time
from urllib.parse import quote

from harness import run, wait_for


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


if __name__ == "__main__":
    run(test)
