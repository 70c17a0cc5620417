#!/usr/bin/env python3
"""Admin API: health, the upstreams JSON, the bearer token, adding a backend (traffic once its
health check passes), weights changed at run time, draining a backend under load with no
failed request, and the 400/404/409/401 answers."""
import json
import re
import threading
import time

from harness import free_port, http_request, port_accepts, run, simple_config, wait_for

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEALTH = ("{ path: /health, interval: 200ms, timeout: 200ms, healthy_threshold: 1, "
          "unhealthy_threshold: 1 }")


class Admin:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, headers=AUTH):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        return http_request(self.port, method, path, body=data, headers=hdrs, timeout=5)

    def backends(self, upstream="app"):
        r = self.call("GET", "/upstreams")
        assert r.status == 200, r
        for u in r.json()["upstreams"]:
            if u["name"] == upstream:
                return {b["address"]: b for b in u["backends"]}
        raise AssertionError(f"no upstream {upstream}")


def test(h):
    a, b = h.backend("a"), h.backend("b")
    port, admin_port = free_port(), free_port()
    extra = f"admin: {{ address: 127.0.0.1:{admin_port}, token: {TOKEN} }}"
    lb = h.balancer(simple_config(port, [a.port], workers=2, health_check=HEALTH,
                                  extra_top=extra), port)
    admin = Admin(admin_port)
    h.expect(wait_for(lambda: port_accepts(admin_port), 5), "admin port listening")
    addr_a, addr_b = f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"

    with h.step("GET /health answers 200 without a token"):
        r = admin.call("GET", "/health", headers={})
        h.expect_eq(r.status, 200, "GET /health")

    with h.step("the token is required (401) and compared whole"):
        h.expect_eq(admin.call("GET", "/upstreams", headers={}).status, 401, "no token")
        h.expect_eq(admin.call("GET", "/upstreams",
                               headers={"Authorization": "Bearer wrong"}).status, 401,
                    "wrong token")
        h.expect_eq(admin.call("GET", "/upstreams",
                               headers={"Authorization": f"Bearer {TOKEN}x"}).status, 401,
                    "token with a suffix")
        h.expect_eq(admin.call("POST", "/upstreams/app/backends", {"address": addr_b},
                               headers={}).status, 401, "POST without token")
        h.expect_eq(admin.call("GET", "/metrics", headers={}).status, 401, "metrics no token")

    with h.step("GET /upstreams lists the upstream, its policy and backends"):
        r = admin.call("GET", "/upstreams")
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.header("Content-Type"), "application/json", "content type")
        ups = r.json()["upstreams"]
        h.expect_eq([u["name"] for u in ups], ["app"], "upstreams")
        h.expect_eq(ups[0]["balance"], "round_robin", "balance")
        be = ups[0]["backends"]
        h.expect_eq([x["address"] for x in be], [addr_a], "backends")
        for key in ("weight", "healthy", "draining", "ejected", "in_flight", "requests",
                    "errors"):
            h.expect(key in be[0], f"backend JSON lacks {key}: {be[0]}")
        h.expect(wait_for(lambda: lb.get("/x").status == 200, 10), "traffic flows")
        h.expect(admin.backends()[addr_a]["requests"] >= 1, "requests counted")

    with h.step("GET /metrics answers Prometheus text"):
        r = admin.call("GET", "/metrics")
        h.expect_eq(r.status, 200, "status")
        h.expect("balancer_upstream_backend_up" in r.body.decode(), "backend_up in /metrics")

    with h.step("bad input: 400 with the reason; unknown: 404; duplicate: 409"):
        cases = [
            ("POST", "/upstreams/app/backends", b"{not json", 400),
            ("POST", "/upstreams/app/backends", {"address": "nonsense"}, 400),
            ("POST", "/upstreams/app/backends", {"address": addr_b, "weight": 0}, 400),
            ("POST", "/upstreams/app/backends", {"address": addr_b, "weight": "3"}, 400),
            ("POST", "/upstreams/app/backends", {"weight": 1}, 400),
            ("POST", "/upstreams/app/backends", {"address": addr_b, "colour": 1}, 400),
            ("POST", "/upstreams/nope/backends", {"address": addr_b}, 404),
            ("POST", "/upstreams/app/backends", {"address": addr_a}, 409),
            ("DELETE", "/upstreams/app/backends/127.0.0.1:1", None, 404),
            ("DELETE", "/upstreams/nope/backends/" + addr_a, None, 404),
            ("PUT", "/upstreams/app/backends/127.0.0.1:1", {"weight": 2}, 404),
            ("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": -1}, 400),
            ("PUT", f"/upstreams/app/backends/{addr_a}", {}, 400),
            ("GET", "/nothing", None, 404),
        ]
        for method, path, body, want in cases:
            r = admin.call(method, path, body)
            ok = h.expect_eq(r.status, want, f"{method} {path} {body!r}")
            if ok and want >= 400:
                err = r.json().get("error")
                h.expect(isinstance(err, str) and err, f"{method} {path}: no reason: {r.body!r}")
        h.expect_eq(set(admin.backends()), {addr_a}, "nothing was added by bad calls")

    with h.step("POST adds a backend: health-checked, then it gets traffic"):
        b.set_healthy(False)
        r = admin.call("POST", "/upstreams/app/backends", {"address": addr_b, "weight": 1})
        h.expect_eq(r.status, 201, f"POST {r.body!r}")
        h.expect_eq(admin.backends()[addr_b]["healthy"], False, "new backend starts down")
        time.sleep(0.6)  # several checks fail
        seen = {lb.get(f"/down/{i}").header("X-Backend") for i in range(10)}
        h.expect_eq(seen, {"a"}, "backends answering while the new one fails its check")
        b.set_healthy(True)
        h.expect(wait_for(lambda: admin.backends()[addr_b]["healthy"], 10), "b came up")
        seen = [lb.get(f"/up/{i}").header("X-Backend") for i in range(20)]
        h.expect("b" in seen and "a" in seen, f"both serve once b is healthy: {seen}")

    with h.step("PUT changes the weight: the split follows"):
        r = admin.call("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": 4})
        h.expect_eq(r.status, 200, f"PUT {r.body!r}")
        h.expect_eq(admin.backends()[addr_a]["weight"], 4, "weight in JSON")
        seen = [lb.get(f"/w/{i}").header("X-Backend") for i in range(60)]
        na = seen.count("a")
        print(f"   a={na} b={seen.count('b')} of 60 with weights 4:1")
        h.expect(42 <= na <= 54, f"a's share with weight 4:1: {na}/60")
        admin.call("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": 1})

    with h.step("a page in a browser cannot drive it: foreign Host, Origin, Sec-Fetch-Site, "
                "a write without JSON or without the CSRF token"):
        add_b = json.dumps({"address": addr_b}).encode()
        plain = {"Content-Type": "text/plain"}
        r = admin.call("POST", "/upstreams/app/backends", add_b, headers={**AUTH, **plain})
        h.expect_eq(r.status, 415, f"a text/plain write (a form or a no-cors fetch): {r.body!r}")
        # DNS rebinding: the page's own name in Host, no token (it cannot know it).
        for host in ("evil.example", "127.0.0.1.evil.example", "localhost.evil"):
            r = admin.call("GET", "/", headers={"Host": f"{host}:{admin_port}"})
            h.expect_eq(r.status, 403, f"GET / with Host {host}")
            r = admin.call("GET", "/upstreams", headers={"Host": host})
            h.expect_eq(r.status, 403, f"GET /upstreams with Host {host} and no token")
        for host in ("127.0.0.1", f"127.0.0.1:{admin_port}", f"localhost:{admin_port}",
                     f"[::1]:{admin_port}"):
            r = admin.call("GET", "/upstreams", headers={**AUTH, "Host": host})
            h.expect_eq(r.status, 200, f"GET /upstreams with Host {host}")
        r = admin.call("GET", "/upstreams", headers={**AUTH, "Host": "monitoring.internal"})
        h.expect_eq(r.status, 200, "a foreign Host with the token (a scraper on another machine)")
        r = admin.call("GET", "/upstreams", headers={**AUTH, "Sec-Fetch-Site": "cross-site"})
        h.expect_eq(r.status, 403, "Sec-Fetch-Site: cross-site")
        r = admin.call("GET", "/upstreams", headers={**AUTH, "Sec-Fetch-Site": "same-site"})
        h.expect_eq(r.status, 403, "Sec-Fetch-Site: same-site (another port of this host)")
        r = admin.call("POST", "/upstreams/app/backends", {"address": addr_b},
                       headers={**AUTH, "Origin": "http://evil.example"})
        h.expect_eq(r.status, 403, "a write from a foreign Origin")
        r = admin.call("POST", "/upstreams/app/backends", {"address": addr_b},
                       headers={**AUTH, "Origin": "http://127.0.0.1:8080",
                                "Host": f"127.0.0.1:{admin_port}"})
        h.expect_eq(r.status, 403, "a write from another port of this host (same site)")
        # The status page: a strict CSP, and the CSRF token its writes must carry.
        page = admin.call("GET", "/", headers={})
        h.expect_eq(page.status, 200, "the status page")
        csp = page.header("Content-Security-Policy") or ""
        h.expect("frame-ancestors 'none'" in csp and "script-src 'sha256-" in csp and
                 "unsafe-inline" not in csp, f"Content-Security-Policy: {csp}")
        h.expect_eq(page.header("X-Frame-Options"), "DENY", "X-Frame-Options")

        m = re.search(rb'<meta name="csrf-token" content="([0-9a-f]{32})">', page.body)
        h.expect(m is not None, "the page carries a CSRF token")
        same = {**AUTH, "Origin": f"http://127.0.0.1:{admin_port}",
                "Host": f"127.0.0.1:{admin_port}", "Sec-Fetch-Site": "same-origin"}
        r = admin.call("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": 1}, headers=same)
        h.expect_eq(r.status, 403, "the page's write without X-CSRF-Token")
        r = admin.call("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": 1},
                       headers={**same, "X-CSRF-Token": "0" * 32})
        h.expect_eq(r.status, 403, "a wrong X-CSRF-Token")
        if m:
            r = admin.call("PUT", f"/upstreams/app/backends/{addr_a}", {"weight": 1},
                           headers={**same, "X-CSRF-Token": m.group(1).decode()})
            h.expect_eq(r.status, 200, f"the page's write with its token: {r.body!r}")
        h.expect(addr_b in admin.backends(), "b is still there, nothing was added or removed")

    with h.step("DELETE drains under load: no failed request, then the backend is gone"):
        stop = threading.Event()
        results, lock = [], threading.Lock()

        def load(k):
            deadline = time.monotonic() + 30
            i = 0
            while not stop.is_set() and time.monotonic() < deadline and i < 400:
                sent_at = time.monotonic()
                r = lb.get(f"/slow?ms=150&k={k}&i={i}", timeout=10)
                with lock:
                    results.append((r.status, r.header("X-Backend"), sent_at))
                i += 1

        threads = [threading.Thread(target=load, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        # 6 clients each with a 150 ms request always open: b has some in flight.
        h.expect(wait_for(lambda: admin.backends()[addr_b]["in_flight"] >= 1, 10),
                 "in_flight counts b's requests under load")
        r = admin.call("DELETE", f"/upstreams/app/backends/{addr_b}")
        h.expect_eq(r.status, 202, f"DELETE {r.body!r}")
        # A request sent after the DELETE has been answered must not reach b.
        with lock:
            answered_before_delete = len(results)
        deleted_at = time.monotonic()
        gone = wait_for(lambda: addr_b not in admin.backends(), 15)
        h.expect(gone, "b removed once its in-flight requests finished")
        wait_for(lambda: len(results) >= answered_before_delete + 30, 15)  # load after it
        stop.set()
        for t in threads:
            t.join(timeout=15)
        statuses = [s for s, _, _ in results]
        bad = [s for s in statuses if s != 200]
        print(f"   {len(statuses)} requests under load, {len(bad)} not 200")
        h.expect(len(statuses) > 20, f"load ran: {len(statuses)} requests")
        h.expect_eq(bad, [], "failed requests while draining")
        # Order, not time: b may finish what it had, but takes nothing sent after the DELETE.
        late_b = [t - deleted_at for s, who, t in results if who == "b" and t > deleted_at]
        sent_after = sum(1 for _, _, t in results if t > deleted_at)
        h.expect(sent_after >= 6, f"requests sent after the DELETE: {sent_after}")
        h.expect_eq(late_b, [], "answers from b to requests sent after the DELETE (s after it)")
        before = b.stats()["proxied"]
        for i in range(10):
            lb.get(f"/after/{i}")
        h.expect_eq(b.stats()["proxied"], before, "requests reaching b after removal")
        h.expect_eq(admin.call("DELETE", f"/upstreams/app/backends/{addr_b}").status, 404,
                    "DELETE of a removed backend")
        # It may come back.
        h.expect_eq(admin.call("POST", "/upstreams/app/backends",
                               {"address": addr_b}).status, 201, "re-adding b")


if __name__ == "__main__":
    run(test)
