"""Only WebSocket upgrades are tunnelled. A backend's 101 to a request that did not ask to
switch is an invalid answer (502), not the start of a tunnel; an h2c upgrade is served as the
plain HTTP/1.1 request it also is, without its Upgrade header, and the connection stays HTTP."""
from harness import run, simple_config


def seen_headers(resp):
    return {name.lower(): value for name, value in resp.json()["headers"]}


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], retries=0))

    with h.step("a 101 to a plain GET is a 502, and nothing of the other protocol leaks"):
        conn = lb.raw()
        conn.send(b"GET /switch HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = conn.read_response(10)
        h.expect_error_json(resp, 502, "101 nobody asked for")
        h.expect(b"not-http-anymore" not in resp.body, f"tunnel bytes reached the client: {resp.body!r}")
        conn.close()

    with h.step("an h2c upgrade is served as HTTP/1.1, its Upgrade not forwarded"):
        conn = lb.raw()
        conn.send(b"GET /headers HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
                  b"GET /headers?second=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        first = conn.read_response(10)
        h.expect_eq(first.status, 200, "status of the h2c-upgrade request")
        seen = seen_headers(first)
        h.expect("upgrade" not in seen and "http2-settings" not in seen,
                 f"the backend saw the upgrade: {seen}")
        second = conn.read_response(10)
        h.expect_eq(second.status, 200, "the pipelined request behind it (still HTTP/1.1)")
        h.expect(second.json().get("path") == "/headers?second=1", f"second answer: {second.body[:120]!r}")
        conn.close()

    with h.step("an h2c upgrade answered 101 by the backend is a 502 too"):
        conn = lb.raw()
        conn.send(b"GET /switch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        resp = conn.read_response(10)
        h.expect_error_json(resp, 502, "101 to an upgrade not forwarded")
        conn.close()


if __name__ == "__main__":
    run(test)
