#!/usr/bin/env python3
"""X-Request-Id, X-Forwarded-For, X-Forwarded-Proto are set; hop-by-hop headers are removed
in both directions."""
import re

from harness import http_request, run, simple_config


def seen_headers(resp):
    """The request headers the backend saw: {lower-case name: [values]}."""
    out = {}
    for name, value in resp.json()["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


def test(h):
    backend = h.backend("a")
    # The client is a trusted proxy here: its X-Forwarded-For is appended to (an untrusted
    # client's is replaced: test_client_address).
    lb = h.balancer(simple_config(0, [backend.port],
                                  extra_top="admin: { address: 127.0.0.1:0 }\n"
                                            "trusted_proxies: [127.0.0.1]"))
    admin_port = lb.admin_port

    with h.step("added headers, hop-by-hop headers removed (request)"):
        conn = lb.raw()
        conn.send(b"GET /headers HTTP/1.1\r\nHost: example.test\r\n"
                  b"Connection: Foo, keep-alive\r\nFoo: bar\r\nKeep-Alive: timeout=5\r\n"
                  b"Proxy-Connection: keep-alive\r\nX-Custom: kept\r\n\r\n")
        resp = conn.read_response(10)
        conn.close()
        h.expect_eq(resp.status, 200, "status")
        seen = seen_headers(resp)
        rid = seen.get("x-request-id", [""])
        h.expect(len(rid) == 1 and rid[0], f"X-Request-Id the backend saw: {rid}")
        h.expect_eq(resp.header("X-Request-Id"), rid[0], "X-Request-Id in the response")
        h.expect_eq(seen.get("x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For")
        h.expect_eq(seen.get("x-forwarded-proto"), ["http"], "X-Forwarded-Proto")
        for name in ("foo", "keep-alive", "proxy-connection"):
            h.expect(name not in seen, f"hop-by-hop header {name!r} reached the backend: "
                                       f"{seen.get(name)}")
        connection = ",".join(seen.get("connection", [])).lower()
        h.expect("foo" not in connection, f"Connection header forwarded as is: {connection!r}")
        h.expect_eq(seen.get("x-custom"), ["kept"], "end-to-end header X-Custom")

    with h.step("a client X-Request-Id is kept; X-Forwarded-For is appended to"):
        r = lb.get("/headers", headers={"X-Request-Id": "client-id-123",
                                        "X-Forwarded-For": "10.1.2.3"})
        seen = seen_headers(r)
        h.expect_eq(seen.get("x-request-id"), ["client-id-123"], "X-Request-Id the backend saw")
        h.expect_eq(r.header("X-Request-Id"), "client-id-123", "X-Request-Id in the response")
        xff = [p.strip() for v in seen.get("x-forwarded-for", []) for p in v.split(",")]
        h.expect_eq(xff, ["10.1.2.3", "127.0.0.1"], "X-Forwarded-For elements")

    with h.step("request ids are unique"):
        ids = {lb.get(f"/id/{i}").header("X-Request-Id") for i in range(20)}
        h.expect(None not in ids and len(ids) == 20, f"20 requests got {len(ids)} distinct ids")

    with h.step("hop-by-hop headers removed (response)"):
        r = lb.get("/hop")
        h.expect_eq(r.status, 200, "status")
        h.expect_eq(r.header("X-Kept"), "yes", "end-to-end response header X-Kept")
        h.expect_eq(r.header("X-Hop"), None, "X-Hop (named in the backend's Connection header)")
        h.expect_eq(r.header("Keep-Alive"), None, "Keep-Alive from the backend")
        h.expect("x-hop" not in (r.header("Connection") or "").lower(),
                 f"Connection header passed through: {r.header('Connection')!r}")

    with h.step("a header with '_' in its name is dropped and counted (it could pose as X-User-Id)"):
        conn = lb.raw()
        conn.send(b"GET /headers HTTP/1.1\r\nHost: example.test\r\nX_User_Id: 1\r\n"
                  b"X-Custom: kept\r\n\r\n")
        resp = conn.read_response(10)
        conn.close()
        h.expect_eq(resp.status, 200, "status")
        seen = seen_headers(resp)
        h.expect("x_user_id" not in seen, f"X_User_Id reached the backend: {seen.get('x_user_id')}")
        h.expect_eq(seen.get("x-custom"), ["kept"], "end-to-end header X-Custom")
        metrics = http_request(admin_port, "GET", "/metrics").body.decode()
        m = re.search(r'^balancer_request_headers_dropped_total\{[^}]*reason="underscore"[^}]*\} (\d+)',
                      metrics, re.M)
        h.expect(m is not None and int(m.group(1)) == 1,
                 f"balancer_request_headers_dropped_total counts it: {m and m.group(0)}")


if __name__ == "__main__":
    run(test)
