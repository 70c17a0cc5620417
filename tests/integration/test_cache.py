#!/usr/bin/env python3
"""The response cache (issue 13) through the real balancer: MISS then HIT with Age, what is
never stored (no-store, private, Set-Cookie, Authorization), Vary variants, invalidation by an
unsafe request, collapsed forwarding (100 concurrent misses, one origin request),
stale-if-error and revalidation with If-None-Match. The core runs with 1 and with 2 workers (one zone shared
by both: a response one worker stored is a hit in the other)."""
import threading
import time
from urllib.parse import quote

from harness import run

CC60 = "cc=max-age%3D60"


def config(workers, app_port, doomed_port):
    return f"""\
workers: {workers}
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:0 }}
cache_zones:
  edge: {{ memory: 8MiB, max_object: 1MiB }}
  small: {{ memory: 384KiB, max_object: 96KiB }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{app_port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
  doomed:
    backends:
      - {{ address: 127.0.0.1:{doomed_port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
    retries: 0
routes:
  - match: {{ path_prefix: /cacheable/small }}
    upstream: app
    cache: {{ zone: small }}
  - match: {{ path_prefix: /cacheable/doomed }}
    upstream: doomed
    cache: {{ zone: edge }}
  - match: {{ path_prefix: /cacheable }}
    upstream: app
    cache: {{ zone: edge }}
  - match: {{ path_prefix: / }}
    upstream: app
"""


def origin_hits(backend, path):
    return backend.stats()["by_path"].get(f"GET {path}", 0)


def core(h, workers):
    """The cache's behaviour on one balancer with `workers` workers; returns it and backends."""
    app, doomed = h.backend(f"app{workers}"), h.backend(f"doomed{workers}")
    lb = h.balancer(config(workers, app.port, doomed.port))
    tag = f"[workers={workers}]"

    with h.step(f"{tag} MISS, then HITs with Age from the one stored response"):
        url = f"/cacheable/basic?{CC60}"
        first = lb.get(url)
        h.expect_eq(first.status, 200, "status")
        h.expect_eq(first.header("X-Cache"), "MISS", "first X-Cache")
        time.sleep(1.1)
        # Fresh connections: with 2 workers they land on both, and each one hits.
        for i in range(12):
            r = lb.get(url)
            h.expect_eq(r.header("X-Cache"), "HIT", f"X-Cache of GET #{i + 2}")
            h.expect_eq(r.body, first.body, f"body of GET #{i + 2}")
            age = r.header("Age")
            h.expect(age is not None and age.isdigit() and int(age) >= 1, f"Age: {age!r}")
        h.expect_eq(origin_hits(app, "/cacheable/basic"), 1, "origin requests")

    with h.step(f"{tag} no-store, private and Set-Cookie responses are not stored"):
        for name, query in (("nostore", "cc=no-store"), ("private", "cc=private%2C%20max-age%3D60"),
                            ("cookie", f"{CC60}&cookie=1")):
            path = f"/cacheable/{name}"
            bodies = set()
            for _ in range(2):
                r = lb.get(f"{path}?{query}")
                h.expect_eq(r.status, 200, f"{name}: status")
                h.expect_eq(r.header("X-Cache"), "MISS", f"{name}: X-Cache")
                bodies.add(r.body)
            h.expect_eq(origin_hits(app, path), 2, f"{name}: origin requests")
            h.expect_eq(len(bodies), 2, f"{name}: each answer from the origin")

    with h.step(f"{tag} a request with Authorization is not answered from what it stored"):
        path = "/cacheable/auth"
        for _ in range(2):
            r = lb.get(f"{path}?{CC60}", headers={"Authorization": "Bearer t"})
            h.expect(r.header("X-Cache") != "HIT", f"X-Cache: {r.header('X-Cache')}")
        h.expect_eq(origin_hits(app, path), 2, "origin requests")

    with h.step(f"{tag} Vary: Accept-Encoding keeps variants apart"):
        path, query = "/cacheable/vary", f"{CC60}&vary=Accept-Encoding"
        gz = lb.get(f"{path}?{query}", headers={"Accept-Encoding": "gzip"})
        plain = lb.get(f"{path}?{query}", headers={"Accept-Encoding": "identity"})
        h.expect_eq((gz.header("X-Cache"), plain.header("X-Cache")), ("MISS", "MISS"),
                    "each variant misses first")
        h.expect(gz.body != plain.body, "two origin answers")
        for enc, want in (("gzip", gz.body), ("identity", plain.body)):
            r = lb.get(f"{path}?{query}", headers={"Accept-Encoding": enc})
            h.expect_eq(r.header("X-Cache"), "HIT", f"{enc}: X-Cache")
            h.expect_eq(r.body, want, f"{enc}: its own variant")
        h.expect_eq(origin_hits(app, path), 2, "origin requests")

    with h.step(f"{tag} a POST to the URI invalidates it: the next GET is a MISS"):
        path = "/cacheable/inv"
        url = f"{path}?{CC60}"
        h.expect_eq(lb.get(url).header("X-Cache"), "MISS", "first GET")
        h.expect_eq(lb.get(url).header("X-Cache"), "HIT", "second GET")
        h.expect_eq(lb.request("POST", url, body=b"x").status, 200, "POST")
        r = lb.get(url)
        h.expect_eq(r.header("X-Cache"), "MISS", "GET after the POST")
        h.expect_eq(origin_hits(app, path), 2, "origin GETs")

    with h.step(f"{tag} collapsed forwarding: 100 concurrent misses, 1 origin request"):
        path = "/cacheable/collapse"
        url = f"{path}?{CC60}&ms=500&n=4096"
        results = [None] * 100
        barrier = threading.Barrier(len(results), timeout=10)

        def fetch(i):
            try:
                barrier.wait()
                results[i] = lb.get(url, timeout=15)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=fetch, args=(i,), daemon=True)
                   for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        failed = [r for r in results if not hasattr(r, "status") or r.status != 200]
        h.expect(not failed, f"{len(failed)} failed: {failed[:3]}")
        bodies = {r.body for r in results if hasattr(r, "body")}
        h.expect_eq(len(bodies), 1, "one body for all")
        h.expect(all(len(b) == 4096 for b in bodies), "whole bodies")
        h.expect_eq(origin_hits(app, path), 1, "origin requests")

    with h.step(f"{tag} revalidation: after max-age the origin's 304 freshens the stored body"):
        path = "/cacheable/reval"
        url = f"{path}?cc=max-age%3D1&etag={quote(chr(34) + 'v1' + chr(34))}"
        first = lb.get(url)
        h.expect_eq(first.header("X-Cache"), "MISS", "first")
        time.sleep(1.5)
        r = lb.get(url)
        h.expect_eq(r.status, 200, "status to the client")
        h.expect_eq(r.header("X-Cache"), "REVALIDATED", "X-Cache")
        h.expect_eq(r.body, first.body, "the stored body")
        h.expect_eq(app.stats()["not_modified"].get(path, 0), 1, "origin answered 304 once")
        h.expect_eq(lb.get(url).header("X-Cache"), "HIT", "fresh again after the 304")
        h.expect_eq(origin_hits(app, path), 2, "origin requests")

    with h.step(f"{tag} stale-if-error: the origin gone, the stale response answers"):
        path = "/cacheable/doomed/sie"
        url = f"{path}?cc=max-age%3D1%2C%20stale-if-error%3D60"
        first = lb.get(url)
        h.expect_eq(first.header("X-Cache"), "MISS", "first")
        time.sleep(1.5)
        doomed.terminate()
        r = lb.get(url)
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.header("X-Cache"), "STALE", "X-Cache")
        h.expect_eq(r.body, first.body, "the stored body")
        r = lb.get("/cacheable/doomed/never-stored")
        h.expect(r.status >= 500, f"nothing stored: the error stays ({r.status})")
    return lb, app


def test(h):
    core(h, 1)
    core(h, 2)


if __name__ == "__main__":
    run(test)
