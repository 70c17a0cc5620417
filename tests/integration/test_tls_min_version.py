#!/usr/bin/env python3
"""`listeners[].tls.min_version: "1.3"`: a client that speaks at most TLS 1.2 is refused (no
handshake, counted as a failed handshake), a TLS 1.3 client is served. A second listener
with the default ("1.2") accepts the same TLS 1.2 client, so the refusal is the setting's."""
import re
import subprocess

from harness import dev_certs, free_port, http_request, run


def s_client(port, *args):
    """(exit code, stdout) of openssl s_client sending one request and reading the answer."""
    request = b"GET /headers HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        "shop.test", "-ign_eof", *args], input=request, capture_output=True,
                       timeout=15)
    return r.returncode, r.stdout.decode(errors="replace")


def curl(port, certs, *args):
    r = subprocess.run(["curl", "-sS", "--cacert", str(certs / "ca.crt"), "--resolve",
                        f"shop.test:{port}:127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}",
                        *args, f"https://shop.test:{port}/headers"], capture_output=True,
                       timeout=30)
    return r.stdout.decode()


def handshakes(admin_port, listener, result, version):
    text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
    pattern = (r'^balancer_tls_handshakes_total\{listener="%s",result="%s",version="%s"\} (\S+)$'
               % (listener, result, version))
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def test(h):
    certs = h.dir / "certs"
    dev_certs(certs, "shop.test")
    backend = h.backend("a")
    strict_port, default_port, admin_port = free_port(), free_port(), free_port()
    cert = f"{{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}"
    lb = h.balancer(f"""\
workers: 2
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
listeners:
  - name: strict
    address: 127.0.0.1:{strict_port}
    tls: {{ certificates: [{cert}], min_version: "1.3" }}
  - name: default
    address: 127.0.0.1:{default_port}
    tls: {{ certificates: [{cert}] }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend.port} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
""", strict_port)

    with h.step("the default listener serves a TLS 1.2-only client (the client can do 1.2)"):
        code, out = s_client(default_port, "-tls1_2")
        h.expect("New, TLSv1.2, Cipher is" in out,
                 f"TLS 1.2 negotiated (exit {code}): {out[-400:]!r}")
        h.expect("HTTP/1.1 200" in out, "the request answered over TLS 1.2")
        h.expect_eq(curl(default_port, certs, "--tlsv1.2", "--tls-max", "1.2"), "200",
                    "curl --tls-max 1.2 on the default listener")

    with h.step('min_version "1.3" refuses a TLS 1.2-only client'):
        failures_before = handshakes(admin_port, "strict", "failure", "none")
        code, out = s_client(strict_port, "-tls1_2")
        h.expect(code != 0, f"s_client -tls1_2 fails (exit {code})")
        # s_client prints "New, (NONE), Cipher is (NONE)" when no session was made.
        h.expect("New, TLSv1.2" not in out and "HTTP/1.1" not in out,
                 f"no TLS 1.2 session, no answer: {out[-400:]!r}")
        h.expect_eq(curl(strict_port, certs, "--tlsv1.2", "--tls-max", "1.2"), "000",
                    "curl --tls-max 1.2 gets no answer")
        # Both refusals counted (the count is summed from the workers at scrape time).
        h.expect(handshakes(admin_port, "strict", "failure", "none") >= failures_before + 2,
                 "balancer_tls_handshakes_total{listener=strict,result=failure} rose by 2")

    with h.step('min_version "1.3" serves a TLS 1.3 client'):
        code, out = s_client(strict_port, "-tls1_3")
        h.expect("New, TLSv1.3, Cipher is" in out,
                 f"TLS 1.3 negotiated (exit {code}): {out[-400:]!r}")
        h.expect("HTTP/1.1 200" in out, "the request answered over TLS 1.3")
        h.expect_eq(curl(strict_port, certs, "--tlsv1.3"), "200", "curl --tlsv1.3")
        h.expect(handshakes(admin_port, "strict", "success", "TLSv1.2") == 0,
                 "no TLS 1.2 handshake ever succeeded on the strict listener")
        h.expect(handshakes(admin_port, "strict", "success", "TLSv1.3") >= 2,
                 "the TLS 1.3 handshakes counted as successes")

    with h.step('balancer -t refuses min_version "1.1"'):
        bad = h.write("bad.yaml", f"""\
listeners:
  - name: strict
    address: 127.0.0.1:{free_port()}
    tls: {{ certificates: [{cert}], min_version: "1.1" }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend.port} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
""")
        r = subprocess.run([lb.argv[0], "-t", "-c", str(bad)], capture_output=True, text=True,
                           timeout=15)
        h.expect_eq(r.returncode, 1, "exit code of -t")
        h.expect("min_version" in r.stdout + r.stderr, f"the error names the key: {r.stdout + r.stderr!r}")


if __name__ == "__main__":
    run(test)
