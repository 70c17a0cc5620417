#!/usr/bin/env python3
"""The real client address (issue 14): listeners with proxy_protocol take the client from a
PROXY v1 or v2 header (before HTTP or TLS) and close connections without one; the address
reaches X-Forwarded-For, the access log, allow/deny and key: ip limits. trusted_proxies: a
trusted peer's X-Forwarded-For is read from the right; an untrusted one's is replaced."""
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import time

from harness import (Incomplete, RawConnection, dev_certs, http_request, parse_response, run,
                     run_cli)

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source, port=5555):
    family = "TCP6" if ":" in source else "TCP4"
    dest = "::1" if ":" in source else "127.0.0.1"
    return f"PROXY {family} {source} {dest} {port} 80\r\n".encode()


def v2(source=None, port=5555, tlv=b""):
    """A v2 PROXY header for `source` (IPv4 or IPv6), or a LOCAL one without."""
    if source is None:
        return SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    if ":" in source:
        block = (socket.inet_pton(socket.AF_INET6, source) +
                 socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!HH", port, 80))
        fam = 0x21
    else:
        block = (socket.inet_pton(socket.AF_INET, source) +
                 socket.inet_pton(socket.AF_INET, "127.0.0.1") + struct.pack("!HH", port, 80))
        fam = 0x11
    payload = block + tlv
    return SIGNATURE + bytes([0x21, fam]) + struct.pack("!H", len(payload)) + payload


def get(path, headers=()):
    lines = [f"GET {path} HTTP/1.1", "Host: shop.test", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(port, data, timeout=10):
    """One request on a fresh connection: the response, or None when it was closed first."""
    conn = RawConnection(port, timeout)
    try:
        conn.send(data)
        try:
            return conn.read_response(timeout)
        except ConnectionError:
            return None
    finally:
        conn.close()


def send_tls(port, header, request, ca):
    """`header` in the clear, then TLS (SNI shop.test), then `request`."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(header)
        with ctx.wrap_socket(raw, server_hostname="shop.test") as tls:
            tls.sendall(request)
            buf = b""
            while True:
                try:
                    return parse_response(buf, False)[0]
                except Incomplete:
                    data = tls.recv(65536)
                    if not data:
                        return parse_response(buf, True)[0]
                    buf += data


def named(resp, name):
    """The values of the fields called `name` the backend saw."""
    return [v for n, v in resp.json()["headers"] if n.lower() == name]


def refused(lb, listener, reason):
    """balancer_proxy_protocol_refused_total for the listener and reason, None if absent."""
    text = http_request(lb.admin_port, "GET", "/metrics", timeout=5).body.decode()
    m = re.search(r'^balancer_proxy_protocol_refused_total\{listener="%s",reason="%s"\} (\S+)$'
                  % (listener, reason), text, re.M)
    return float(m[1]) if m else None


def xff(resp):
    """The X-Forwarded-For the backend saw, as a list of addresses."""
    values = [v for n, v in resp.json()["headers"] if n.lower() == "x-forwarded-for"]
    return [p.strip() for v in values for p in v.split(",")]


def log_clients(path, want, timeout=3.0):
    """The access log's `client` fields once at least `want` lines are there."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [json.loads(l) for l in text.split("\n") if l]
        if len(lines) >= want or time.monotonic() >= deadline:
            return [l.get("client") for l in lines]
        time.sleep(0.05)


def config(backend_port, log_path, certs):
    return f"""\
workers: 1
shutdown_timeout: 2s
timeouts: {{ client_header: 1s }}
trusted_proxies: [10.0.0.0/8, "2001:db8:ff::/48"]
access_log: {{ path: {log_path}, format: json }}
listeners:
  - {{ name: pp, address: 127.0.0.1:0, proxy_protocol: true }}
  - name: pptls
    address: 127.0.0.1:0
    proxy_protocol: true
    tls: {{ certificates: [{{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}] }}
  - {{ name: plain, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
routes:
  - match: {{ path_prefix: /partners }}
    upstream: app
    allow: [198.51.100.0/24]
  - match: {{ path_prefix: /public }}
    upstream: app
    deny: [203.0.113.0/24]
  - match: {{ path_prefix: /limited }}
    upstream: app
    rate_limit: {{ rate: 1/m, burst: 2, key: ip }}
  - match: {{ path_prefix: / }}
    upstream: app
admin: {{ address: 127.0.0.1:0 }}
"""


def test(h):
    backend = h.backend("a")
    certs = h.dir / "certs"
    dev_certs(certs, "shop.test")
    log_path = h.dir / "access.log"
    lb = h.balancer(config(backend.port, log_path, certs))
    pp, pptls, plain = lb.ports["pp"], lb.ports["pptls"], lb.ports["plain"]
    logged = 0

    with h.step("PROXY v1 and v2 (TCP4, TCP6, TLVs): the source is the client upstream and in the log"):
        cases = [("v1 TCP4", v1("203.0.113.7"), "203.0.113.7"),
                 ("v1 TCP6", v1("2001:db8::9"), "2001:db8::9"),
                 ("v2 TCP4", v2("198.51.100.4"), "198.51.100.4"),
                 ("v2 TCP6 with a TLV", v2("2001:db8::a", tlv=b"\x04\x00\x03abc"), "2001:db8::a")]
        for what, header, client in cases:
            r = send(pp, header + get("/headers"))
            if h.expect(r is not None and r.status == 200, f"{what}: answered: {r}"):
                h.expect_eq(xff(r), [client], f"{what}: X-Forwarded-For")
        logged += len(cases)
        h.expect_eq(log_clients(log_path, logged)[-len(cases):], [c for _, _, c in cases],
                    "access log clients")

    with h.step("the header and the request in separate pieces (a byte at a time)"):
        conn = RawConnection(pp)
        for b in v2("198.51.100.5"):
            conn.send(bytes([b]))
        time.sleep(0.05)
        conn.send(get("/headers"))
        r = conn.read_response(10)
        conn.close()
        h.expect_eq(xff(r), ["198.51.100.5"], "X-Forwarded-For")
        logged += 1

    with h.step("v2 LOCAL (a health check of the relay) and v1 UNKNOWN keep the peer address"):
        for what, header in (("v2 LOCAL", v2(None)), ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n")):
            r = send(pp, header + get("/headers"))
            if h.expect(r is not None and r.status == 200, f"{what}: answered: {r}"):
                h.expect_eq(xff(r), ["127.0.0.1"], f"{what}: X-Forwarded-For")
        logged += 2

    with h.step("curl --haproxy-protocol (v1 with its own addresses)"):
        out = subprocess.run(["curl", "-sS", "--haproxy-protocol", "-H", "Host: shop.test",
                              f"http://127.0.0.1:{pp}/headers"],
                             capture_output=True, timeout=30)
        h.expect_eq(out.returncode, 0, f"curl exit code ({out.stderr.decode()[:300]})")
        seen = json.loads(out.stdout)
        values = [v for n, v in seen["headers"] if n.lower() == "x-forwarded-for"]
        h.expect_eq(values, ["127.0.0.1"], "X-Forwarded-For")
        logged += 1

    with h.step("HTTPS after the header: TLS starts behind it"):
        for what, header, client in (("v1", v1("203.0.113.20"), "203.0.113.20"),
                                     ("v2", v2("2001:db8::20"), "2001:db8::20")):
            r = send_tls(pptls, header, get("/headers"), certs / "ca.crt")
            if h.expect(r is not None and r.status == 200, f"{what}: answered: {r}"):
                h.expect_eq(xff(r), [client], f"{what}: X-Forwarded-For")
                protos = [v for n, v in r.json()["headers"] if n.lower() == "x-forwarded-proto"]
                h.expect_eq(protos, ["https"], f"{what}: X-Forwarded-Proto")
        logged += 2
        h.expect_eq(log_clients(log_path, logged)[-2:], ["203.0.113.20", "2001:db8::20"],
                    "access log clients")

    with h.step("without a valid header the connection is closed, with no HTTP answer"):
        before = backend.stats()["requests"]
        for what, data in (("plain HTTP", get("/headers")),
                           ("a v1 line with a bad port", b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 80\r\n"
                            + get("/headers")),
                           ("a v1 line over 107 bytes", b"PROXY UNKNOWN " + b"x" * 120),
                           ("a v2 header longer than accepted", SIGNATURE + b"\x21\x11\xff\xff")):
            conn = RawConnection(pp)
            conn.send(data)
            closed = conn.wait_closed(3)
            h.expect(closed and conn.buf == b"", f"{what}: closed without an answer "
                                                 f"(closed={closed}, got {conn.buf[:80]!r})")
            conn.close()
        conn = RawConnection(pptls)
        conn.send(b"\x16\x03\x01\x00\x05hello")  # a TLS hello with no PROXY header first
        h.expect(conn.wait_closed(3) and conn.buf == b"", f"TLS first: closed without an "
                                                          f"alert ({conn.buf[:40]!r})")
        conn.close()
        h.expect_eq(backend.stats()["requests"], before, "requests the backend saw")
        h.expect_eq((refused(lb, "pp", "invalid"), refused(lb, "pptls", "invalid")), (4.0, 1.0),
                    "balancer_proxy_protocol_refused_total{reason=invalid} per listener")

    with h.step("a connection that sends nothing is closed at the header timeout (1s)"):
        conn = RawConnection(pp)
        start = time.monotonic()
        closed = conn.wait_closed(4)
        took = time.monotonic() - start
        conn.close()
        h.expect(closed and 0.8 <= took <= 3.5, f"closed={closed} after {took:.2f}s")
        conn = RawConnection(pp)
        conn.send(b"PROXY TCP4 1.2.3.4")  # half a header, then silence
        closed = conn.wait_closed(4)
        conn.close()
        h.expect(closed, "half a header, then silence: closed")
        h.expect_eq(refused(lb, "pp", "timeout"), 2.0,
                    "balancer_proxy_protocol_refused_total{reason=timeout}")
        text = http_request(lb.admin_port, "GET", "/metrics", timeout=5).body.decode()
        h.expect('refused_total{listener="plain"' not in text,
                 "no series for a listener without proxy_protocol")

    with h.step("allow/deny see the address from the header"):
        for source, path, status in (("198.51.100.4", "/partners/x", 200),
                                     ("203.0.113.7", "/partners/x", 403),
                                     ("203.0.113.7", "/public/x", 403),
                                     ("198.51.100.4", "/public/x", 200)):
            r = send(pp, v2(source) + get(path))
            h.expect_eq(r and r.status, status, f"{source} {path}")
        logged += 4

    with h.step("key: ip limits count the address from the header, not the relay's"):
        statuses = [send(pp, v1("203.0.113.50") + get("/limited/a")).status for _ in range(3)]
        h.expect_eq(statuses, [200, 200, 429], "one client's burst of 2")
        r = send(pp, v1("203.0.113.51") + get("/limited/a"))
        h.expect_eq(r.status, 200, "another client behind the same relay")
        logged += 4

    with h.step("an untrusted peer's X-Forwarded-For is replaced, not believed"):
        r = send(pp, v1("203.0.113.7") + get("/public/x", ["X-Forwarded-For: 198.51.100.4"]))
        h.expect_eq(r.status, 403, "deny still sees 203.0.113.7 (the forged XFF is ignored)")
        r = send(plain, get("/headers", ["X-Forwarded-For: 6.6.6.6", "X-Real-IP: 6.6.6.6",
                                         "Forwarded: for=6.6.6.6"]))
        h.expect_eq(xff(r), ["127.0.0.1"], "X-Forwarded-For from an untrusted peer")
        h.expect_eq(named(r, "x-real-ip") + named(r, "forwarded"), [],
                    "X-Real-IP and Forwarded from an untrusted peer are dropped")
        logged += 2
        h.expect_eq(log_clients(log_path, logged)[-1], "127.0.0.1", "access log client")

    with h.step("a trusted peer's X-Forwarded-For: read from the right past trusted hops"):
        # The relay 10.1.1.1 (trusted) says the request came through 10.2.2.2 (trusted) from
        # 198.51.100.9; 1.1.1.1 on the left is whatever that client claimed.
        chain = ["X-Forwarded-For: 1.1.1.1, 198.51.100.9", "X-Forwarded-For: 10.2.2.2"]
        r = send(pp, v2("10.1.1.1") + get("/headers", chain))
        h.expect_eq(xff(r), ["1.1.1.1", "198.51.100.9", "10.2.2.2", "10.1.1.1"],
                    "X-Forwarded-For sent upstream (the list, then the peer)")
        logged += 1
        h.expect_eq(log_clients(log_path, logged)[-1], "198.51.100.9", "access log client")
        r = send(pp, v2("10.1.1.1") + get("/headers", ["X-Real-IP: 198.51.100.9",
                                                       "Forwarded: for=198.51.100.9"]))
        h.expect_eq(named(r, "x-real-ip") + named(r, "forwarded"),
                    ["198.51.100.9", "for=198.51.100.9"], "a trusted peer's claims pass")
        logged += 1
        r = send(pp, v2("10.1.1.1") + get("/partners/x", ["X-Forwarded-For: 198.51.100.9"]))
        h.expect_eq(r.status, 200, "allow sees the client the trusted relay names")
        r = send(pp, v2("10.1.1.1") + get("/public/x", ["X-Forwarded-For: 203.0.113.9"]))
        h.expect_eq(r.status, 403, "deny sees the client the trusted relay names")
        statuses = [send(pp, v2("10.1.1.1") + get("/limited/b",
                                                  ["X-Forwarded-For: 203.0.113.60"])).status
                    for _ in range(3)]
        h.expect_eq(statuses, [200, 200, 429], "the limit counts the named client")
        r = send(pp, v2("10.1.1.1") + get("/limited/b", ["X-Forwarded-For: 203.0.113.61"]))
        h.expect_eq(r.status, 200, "another client through the same relay")
        r = send(pp, v2("2001:db8:ff::1") + get("/headers", ["X-Forwarded-For: 10.3.3.3"]))
        h.expect_eq(xff(r), ["10.3.3.3", "2001:db8:ff::1"], "all trusted (IPv6 relay)")
        logged += 8
        h.expect_eq(log_clients(log_path, logged)[-1], "10.3.3.3",
                    "all trusted: the leftmost is the client")

    with h.step("SIGHUP: proxy_protocol and trusted_proxies change with the configuration"):
        text = config(backend.port, log_path, certs).replace(
            "{ name: plain, address: 127.0.0.1:0 }",
            "{ name: plain, address: 127.0.0.1:0, proxy_protocol: true }").replace(
            '"2001:db8:ff::/48"]', '"2001:db8:ff::/48", 203.0.113.0/24]')
        lb.config_path.write_text(text)
        os.kill(lb.pid, signal.SIGHUP)
        lb.wait_log(r"SIGHUP: configuration reloaded")
        time.sleep(0.1)  # the workers take it within one loop turn
        conn = RawConnection(plain)
        conn.send(get("/headers"))
        h.expect(conn.wait_closed(3) and conn.buf == b"",
                 f"plain listener, now with proxy_protocol: no header, closed ({conn.buf[:60]!r})")
        conn.close()
        r = send(plain, v1("203.0.113.7") + get("/headers", ["X-Forwarded-For: 198.51.100.7"]))
        h.expect_eq(xff(r), ["198.51.100.7", "203.0.113.7"],
                    "203.0.113.7, now trusted: its X-Forwarded-For is kept")
        r = send(pp, v1("203.0.113.7") + get("/public/x", ["X-Forwarded-For: 198.51.100.7"]))
        h.expect_eq(r.status, 200, "deny sees the client 203.0.113.7 names")

    with h.step("config errors name FILE:LINE:COLUMN"):
        bad = h.write("bad.yaml", config(backend.port, log_path, certs).replace(
            '"2001:db8:ff::/48"', "10.0.0.0/33").replace(
            "name: pp, address: 127.0.0.1:0, proxy_protocol: true",
            "name: pp, address: 127.0.0.1:0, proxy_protocol: maybe"))
        res = run_cli("-t", "-c", bad)
        h.expect_eq(res.returncode, 1, "exit code")
        h.expect(f"{bad}:4:" in res.stderr and "10.0.0.0/33" in res.stderr,
                 f"the bad CIDR on line 4: {res.stderr}")
        h.expect(f"{bad}:7:" in res.stderr and "proxy_protocol" in res.stderr,
                 f"the bad flag on line 7: {res.stderr}")


if __name__ == "__main__":
    run(test)
