#!/usr/bin/env python3
"""The response cache and a client's own conditions (issue 13, RFC 9110 13 and 14 over RFC
9111): If-None-Match / If-Modified-Since answered 304 from a stored response with the fields
a 304 must carry; Range answered 206/416 from a stored body (If-Range too); a stale response
revalidated for a conditional client answers it (304 when it matches, else 200); Expires
dates in any case are read."""
import time
from urllib.parse import quote

from harness import run

ETAG = '"v1"'
LM = "Sun, 06 Nov 1994 08:49:37 GMT"


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


def url(path, cc="max-age=60", **extra):
    query = {"cc": cc, "etag": ETAG, "lm": LM, **extra}
    return f"{path}?" + "&".join(f"{k}={quote(str(v))}" for k, v in query.items())


def origin_hits(app, path):
    return app.stats()["by_path"].get(f"GET {path}", 0)


def test(h):
    app = h.backend("app")
    lb = h.balancer(config(app.port))

    with h.step("a fresh stored response answers If-None-Match / If-Modified-Since with 304"):
        u = url("/cacheable/c304", vary="Accept-Encoding")
        first = lb.get(u)
        h.expect_eq((first.status, first.header("X-Cache")), (200, "MISS"), "first")
        time.sleep(1.1)
        for name, value in (("If-None-Match", ETAG), ("If-None-Match", f'"x", W/{ETAG}'),
                            ("If-None-Match", "*"), ("If-Modified-Since", LM)):
            r = lb.get(u, headers={name: value})
            h.expect_eq(r.status, 304, f"{name}: {value}")
            h.expect_eq(r.body, b"", "no body")
            h.expect_eq(r.header("X-Cache"), "HIT", "X-Cache")
            age = r.header("Age")
            h.expect(age is not None and int(age) >= 1, f"Age {age!r}")
            for field, want in (("ETag", ETAG), ("Cache-Control", "max-age=60"),
                                ("Last-Modified", LM), ("Vary", "Accept-Encoding")):
                h.expect_eq(r.header(field), want, f"{field} on the 304")
            h.expect(r.header("Date") is not None, "Date on the 304")
            h.expect(r.header("Content-Type") is None, "no Content-Type on the 304")
        r = lb.get(u, headers={"If-None-Match": '"other"'})
        h.expect_eq((r.status, r.header("X-Cache"), r.body), (200, "HIT", first.body),
                    "another tag: the stored 200")
        r = lb.get(u, headers={"If-Modified-Since": "Sat, 05 Nov 1994 08:49:37 GMT"})
        h.expect_eq(r.status, 200, "modified since an earlier date")
        h.expect_eq(lb.get(u, headers={"If-Match": '"other"'}).status, 412, "If-Match")
        h.expect_eq(origin_hits(app, "/cacheable/c304"), 1, "origin requests")

    with h.step("Range from the stored body: 206, 416, If-Range"):
        u = url("/cacheable/range", n=1000)
        whole = lb.get(u).body
        h.expect_eq(len(whole), 1000, "stored body")
        r = lb.get(u, headers={"Range": "bytes=10-19"})
        h.expect_eq((r.status, r.header("X-Cache")), (206, "HIT"), "206 from the store")
        h.expect_eq(r.header("Content-Range"), "bytes 10-19/1000", "Content-Range")
        h.expect_eq(r.body, whole[10:20], "the bytes")
        r = lb.get(u, headers={"Range": "bytes=-5"})
        h.expect_eq((r.status, r.body), (206, whole[-5:]), "a suffix")
        r = lb.get(u, headers={"Range": "bytes=5000-"})
        h.expect_eq(r.status, 416, "unsatisfiable")
        h.expect_eq(r.header("Content-Range"), "bytes */1000", "416's Content-Range")
        r = lb.get(u, headers={"Range": "bytes=0-3", "If-Range": ETAG})
        h.expect_eq((r.status, r.body), (206, whole[:4]), "If-Range that matches")
        r = lb.get(u, headers={"Range": "bytes=0-3", "If-Range": '"old"'})
        h.expect_eq((r.status, r.body), (200, whole), "If-Range that does not: all of it")
        h.expect_eq(origin_hits(app, "/cacheable/range"), 1, "origin requests")

    with h.step("several ranges from the stored body: one multipart/byteranges 206"):
        r = lb.get(u, headers={"Range": "bytes=990-, 0-1, 1-3"})
        h.expect_eq((r.status, r.header("X-Cache")), (206, "HIT"), "206 from the store")
        kind, _, boundary = (r.header("Content-Type") or "").partition("; boundary=")
        h.expect_eq(kind, "multipart/byteranges", "Content-Type")
        h.expect(r.header("Content-Range") is None, "no Content-Range on the whole")
        b = boundary.encode()
        expected = (b"--" + b + b"\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-3/1000"
                    b"\r\n\r\n" + whole[:4] + b"\r\n--" + b +
                    b"\r\nContent-Type: text/plain\r\nContent-Range: bytes 990-999/1000\r\n\r\n" +
                    whole[990:] + b"\r\n--" + b + b"--\r\n")
        h.expect_eq(r.body, expected, "the parts, in order, overlapping ones merged")
        h.expect_eq(origin_hits(app, "/cacheable/range"), 1, "origin requests")

    with h.step("a Range miss goes to the origin as it is; a conditional miss too"):
        u = url("/cacheable/rangemiss", n=100)
        r = lb.get(u, headers={"Range": "bytes=0-9"})
        h.expect_eq(r.header("X-Cache"), "MISS", "miss")
        # The test origin ignores Range: its 200 is stored and serves the next one.
        r = lb.get(u, headers={"Range": "bytes=0-9"})
        h.expect_eq((r.status, r.header("X-Cache"), len(r.body)), (206, "HIT", 10), "then a hit")

    with h.step("a stale response revalidated for a conditional client: 304 or the 200"):
        path = "/cacheable/stalecond"
        u = url(path, cc="max-age=1")
        first = lb.get(u)
        time.sleep(1.5)
        r = lb.get(u, headers={"If-None-Match": ETAG})
        h.expect_eq((r.status, r.header("X-Cache")), (304, "REVALIDATED"), "matching client")
        h.expect_eq(r.header("ETag"), ETAG, "ETag on the 304")
        time.sleep(1.5)
        r = lb.get(u, headers={"If-None-Match": '"v0"'})
        h.expect_eq((r.status, r.header("X-Cache")), (200, "REVALIDATED"), "other tag")
        h.expect_eq(r.body, first.body, "the stored body")
        time.sleep(1.5)
        r = lb.get(u, headers={"If-Modified-Since": LM})
        h.expect_eq((r.status, r.header("X-Cache")), (304, "REVALIDATED"), "If-Modified-Since")
        h.expect_eq(app.stats()["not_modified"].get(path, 0), 3, "origin 304s")
        h.expect_eq(origin_hits(app, path), 4, "origin requests")

    with h.step("Expires in the wrong case is read; an invalid one is already stale"):
        future = "THU, 18 AUG 2050 02:01:18 gMT"
        u = f"/cacheable/expcase?expires={quote(future)}"
        h.expect_eq(lb.get(u).header("X-Cache"), "MISS", "first")
        h.expect_eq(lb.get(u).header("X-Cache"), "HIT", "reused")
        u = f"/cacheable/expbad?expires={quote('Thu, 18 Aug 2050 02:01:18 UTC')}"
        lb.get(u)
        h.expect(lb.get(u).header("X-Cache") != "HIT", "invalid Expires: not reused")


if __name__ == "__main__":
    run(test)
