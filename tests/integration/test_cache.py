#!/usr/bin/env python3
"""The response cache (issue 13) through the real balancer: MISS then HIT with Age, what is
never stored (no-store, private, Set-Cookie, Authorization), Vary variants, invalidation by an
unsafe request, collapsed forwarding (100 concurrent misses, one origin request),
stale-if-error, revalidation with If-None-Match, eviction within the zone's memory bound, the
cache metrics and POST /cache/purge. The core runs with 1 and with 2 workers (one zone shared
by both: a response one worker stored is a hit in the other)."""
import json
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import quote

from harness import http_request, run, wait_for

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
        # max-age=3: the 304's Date has whole seconds (up to 1 s of apparent age at once), and
        # "fresh again" must hold on a loaded machine too.
        url = f"{path}?cc=max-age%3D3&etag={quote(chr(34) + 'v1' + chr(34))}"
        first = lb.get(url)
        h.expect_eq(first.header("X-Cache"), "MISS", "first")
        time.sleep(3.5)
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


def scrape(lb):
    """{(name, frozenset(labels)): value} of the admin API's /metrics, and its text."""
    text = http_request(lb.admin_port, "GET", "/metrics", timeout=5).body.decode()
    samples = {}
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples, text


def cache_requests(samples, route, result):
    return samples.get(("balancer_cache_requests_total",
                        frozenset({("route", route), ("result", result)})))


def zone_value(samples, name, zone):
    return samples.get((name, frozenset({("zone", zone)})))


def purge(lb, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_request(lb.admin_port, "POST", "/cache/purge", body=data,
                        headers={"Content-Type": content_type}, timeout=5)


def metrics_steps(h, lb):
    route = "2:/cacheable"
    with h.step("balancer_cache_requests_total{route,result} counts what X-Cache said"):
        before, text = scrape(lb)
        for result in ("hit", "miss", "stale", "revalidated", "bypass"):
            h.expect(cache_requests(before, route, result) is not None,
                     f"series for {result} on the cached route")
        h.expect(cache_requests(before, "3:/", "hit") is None, "none for a route without cache")
        h.expect(cache_requests(before, route, "revalidated") >= 1, "revalidated counted")
        h.expect(cache_requests(before, route, "bypass") >= 1, "the POST was a bypass")
        h.expect_eq(cache_requests(before, "1:/cacheable/doomed", "stale"), 1.0, "stale")
        url = f"/cacheable/counted?{CC60}"
        for want in ("MISS", "HIT", "HIT"):
            h.expect_eq(lb.get(url).header("X-Cache"), want, "X-Cache")
        # An exchange is counted when it ends, which may be just after the client has its
        # last byte (another worker may answer the scrape first): wait for the counts.
        wait_for(lambda: (cache_requests(scrape(lb)[0], route, "hit") or 0) -
                 (cache_requests(before, route, "hit") or 0) >= 2.0, 5)
        after, _ = scrape(lb)
        h.expect_eq(cache_requests(after, route, "miss") - cache_requests(before, route, "miss"),
                    1.0, "misses counted")
        h.expect_eq(cache_requests(after, route, "hit") - cache_requests(before, route, "hit"),
                    2.0, "hits counted")
        h.expect(zone_value(after, "balancer_cache_objects", "edge") >= 5, "edge objects")
        h.expect(zone_value(after, "balancer_cache_bytes", "edge") > 4096, "edge bytes")
        h.expect_eq(zone_value(after, "balancer_cache_evictions_total", "edge"), 0.0,
                    "edge evictions")
        promtool = shutil.which("promtool")
        if promtool:
            check = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                   capture_output=True, timeout=30)
            h.expect(check.returncode == 0, f"promtool: {check.stdout}{check.stderr}")

    with h.step("eviction: 20 objects of 64 KiB in a 384 KiB zone stay within its memory"):
        for i in range(20):
            r = lb.get(f"/cacheable/small/{i}?{CC60}&n=65536")
            h.expect_eq((r.status, len(r.body)), (200, 65536), f"object {i}")
        samples, _ = scrape(lb)
        objects = zone_value(samples, "balancer_cache_objects", "small")
        stored = zone_value(samples, "balancer_cache_bytes", "small")
        evicted = zone_value(samples, "balancer_cache_evictions_total", "small")
        h.expect(1 <= objects <= 6, f"objects kept: {objects}")
        h.expect(65536 <= stored <= 384 * 1024, f"bytes kept: {stored}")
        h.expect(evicted >= 14, f"evictions: {evicted}")
        h.expect_eq(objects + evicted, 20.0, "every object stored was kept or evicted")


def purge_steps(h, lb, app):
    with h.step("POST /cache/purge removes a path, a prefix, on a host, over every zone"):
        urls = [f"/cacheable/p/a?{CC60}", f"/cacheable/p/b?{CC60}", f"/cacheable/q?{CC60}",
                f"/cacheable/small/p?{CC60}"]
        for url in urls:
            lb.get(url)
            h.expect_eq(lb.get(url).header("X-Cache"), "HIT", f"{url} stored")
        r = purge(lb, {"path": "/cacheable/p", "prefix": True})
        h.expect_eq((r.status, r.json()), (200, {"purged": 2}), "prefix purge")
        h.expect_eq(lb.get(urls[0]).header("X-Cache"), "MISS", "purged /p/a")
        h.expect_eq(lb.get(urls[2]).header("X-Cache"), "HIT", "/q kept")
        r = purge(lb, {"path": "/cacheable/q", "host": "other.test"})
        h.expect_eq((r.status, r.json()), (200, {"purged": 0}), "another host")
        r = purge(lb, {"path": "/cacheable/q", "host": "127.0.0.1"})
        h.expect_eq((r.status, r.json()), (200, {"purged": 1}), "exact path on its host")
        h.expect_eq(lb.get(urls[2]).header("X-Cache"), "MISS", "purged /q")
        r = purge(lb, {"path": "/cacheable/small/p"})
        h.expect_eq(r.json(), {"purged": 1}, "the other zone")
        h.expect_eq(purge(lb, {"path": "/cacheable/p/a"}).json(), {"purged": 1}, "exact path")

    with h.step("POST /cache/purge refuses bad input"):
        for body in (b"{not json", b"[]", {"prefix": True}, {"path": "nope"},
                     {"path": "/x", "prefix": "yes"}, {"path": "/x", "what": 1}):
            r = purge(lb, body)
            h.expect_eq(r.status, 400, f"body {body!r}")
            h.expect("error" in r.json(), f"error JSON for {body!r}")
        h.expect_eq(purge(lb, {"path": "/x"}, content_type="text/plain").status, 415,
                    "not JSON content type")
        h.expect_eq(http_request(lb.admin_port, "GET", "/cache/purge").status, 405, "GET")


def test(h):
    core(h, 1)
    lb, app = core(h, 2)
    metrics_steps(h, lb)
    purge_steps(h, lb, app)


if __name__ == "__main__":
    run(test)
