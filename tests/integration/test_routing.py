#!/usr/bin/env python3
"""Routing: host, exact path over prefix, longest prefix, methods, strip_prefix, 404.

Routes are listed so that "first match in file order" would get the specificity cases wrong:
the exact path comes after its prefix, the short prefix before the long one."""
from harness import run

UPSTREAMS = ["host", "default", "prefix", "exact", "short", "long", "post", "api"]

ROUTES = """\
routes:
  - match: { path_prefix: /hosted, host: example.com }
    upstream: host
  - match: { path_prefix: /hosted }
    upstream: default
  - match: { path_prefix: /exact }
    upstream: prefix
  - match: { path: /exact }
    upstream: exact
  - match: { path_prefix: /long }
    upstream: short
  - match: { path_prefix: /long/er }
    upstream: long
  - match: { path_prefix: /method, methods: [POST] }
    upstream: post
  - match: { path_prefix: /method }
    upstream: default
  - match: { path_prefix: /api }
    upstream: api
    strip_prefix: /api
"""


def config(port, backends):
    ups = "".join(f"""\
  {name}:
    balance: round_robin
    backends:
      - {{ address: 127.0.0.1:{b.port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
    retries: 1
""" for name, b in backends.items())
    return f"""\
workers: 1
shutdown_timeout: 2s
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
{ups}{ROUTES}"""


def test(h):
    backends = {name: h.backend(name) for name in UPSTREAMS}
    lb = h.balancer(config(0, backends))

    def routed(method, path, host="127.0.0.1"):
        r = lb.request(method, path, headers={"Host": host})
        if r.status != 200:
            return (r.status, None)
        return (r.header("X-Backend"), r.json()["path"])

    def expect_route(method, path, backend, seen_path=None, host="127.0.0.1"):
        h.expect_eq(routed(method, path, host), (backend, seen_path or path),
                    f"{method} {path} (Host: {host}) -> (backend, path it saw)")

    with h.step("host"):
        expect_route("GET", "/hosted/x", "host", host="example.com")
        expect_route("GET", "/hosted/x", "default", host="other.example.org")

    with h.step("host matching ignores case and the port"):
        expect_route("GET", "/hosted/y", "host", host="EXAMPLE.com")
        expect_route("GET", "/hosted/y", "host", host="example.com:8080")

    with h.step("an exact path beats a prefix"):
        expect_route("GET", "/exact", "exact")
        expect_route("GET", "/exact/more", "prefix")

    with h.step("the longest prefix wins"):
        expect_route("GET", "/long/er/x", "long")
        expect_route("GET", "/long/er", "long")
        expect_route("GET", "/long/x", "short")

    with h.step("methods"):
        expect_route("POST", "/method/x", "post")
        expect_route("GET", "/method/x", "default")

    with h.step("strip_prefix: the backend sees the path without the prefix"):
        expect_route("GET", "/api/v1/items?q=1", "api", "/v1/items?q=1")
        expect_route("POST", "/api/users", "api", "/users")
        expect_route("GET", "/api", "api", "/")

    with h.step("a trailing dot in the host is the same name"):
        expect_route("GET", "/hosted/z", "host", host="example.com.")

    with h.step("paths are matched and forwarded normalized (dot segments, %-encoded unreserved)"):
        expect_route("GET", "/hosted/../exact", "exact", "/exact")
        expect_route("GET", "/long/./er/x", "long", "/long/er/x")
        expect_route("GET", "/%6Cong/er/x", "long", "/long/er/x")
        expect_route("GET", "/api/%2E%2E/exact", "exact", "/exact")
        expect_route("GET", "/api/a%2fb", "api", "/a%2Fb")

    with h.step("a path that climbs above the root is a 400"):
        for path in ("/..", "/api/../../etc/passwd", "/%2e%2e/x"):
            h.expect_error_json(lb.get(path), 400, f"GET {path}")

    with h.step("an absolute-form target is routed by its authority, which becomes the Host"):
        conn = lb.raw()
        conn.send(b"GET http://example.com:8080/hosted/abs HTTP/1.1\r\nHost: other.test\r\n\r\n")
        r = conn.read_response(10)
        conn.close()
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.header("X-Backend"), "host", "routed by the target's host")
        seen = {n.lower(): v for n, v in r.json()["headers"]}
        h.expect_eq(seen.get("host"), "example.com:8080", "the Host the backend saw")

    with h.step("no route -> 404 JSON"):
        for path in ("/nothing", "/", "/other/hosted"):
            h.expect_error_json(lb.get(path), 404, f"GET {path}")


if __name__ == "__main__":
    run(test)
