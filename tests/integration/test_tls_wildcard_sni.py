#!/usr/bin/env python3
"""SNI with wildcard certificates (README, Edge security: "SNI picks (exact names and `*.`
wildcards from the SAN and CN)"): a certificate for `*.shop.test` is served for
`api.shop.test` (any case), and not for `shop.test` or `a.b.shop.test`, since a wildcard
stands for exactly one label (RFC 6125 6.4.3); those, unknown names and clients without SNI
get the first (default) certificate. A wildcard found only in the CN counts too."""
import subprocess

from harness import dev_certs, free_port, run


def make_cert(certs, name, cn, san):
    """A P-256 certificate for `cn` (SAN DNS:`san` unless None), signed by the dev CA in
    `certs`; written as certs/name.crt and certs/name.key."""
    key, csr, crt, ext = (certs / f"{name}.{e}" for e in ("key", "csr", "crt", "ext"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-subj", f"/CN={cn}", "-keyout", key, "-out", csr],
                   check=True, capture_output=True)
    ext.write_text((f"subjectAltName=DNS:{san}\n" if san else "") +
                   "extendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", certs / "ca.crt",
                    "-CAkey", certs / "ca.key", "-CAcreateserial", "-days", "30",
                    "-extfile", ext, "-out", crt], check=True, capture_output=True)
    return crt, key


def served_certificate(port, *sni_args):
    """(subject, SAN text) of the certificate the listener serves for these s_client args."""
    hello = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *sni_args],
                           input=b"", capture_output=True, timeout=15).stdout
    x509 = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName"],
                          input=hello, capture_output=True, timeout=15)
    if x509.returncode != 0:
        return None, None
    lines = x509.stdout.decode().splitlines()
    subject = next((l.split("=", 1)[1].strip() for l in lines if l.startswith("subject=")), None)
    san = " ".join(l.strip() for l in lines if "DNS:" in l)
    return subject, san


def test(h):
    certs = h.dir / "certs"
    # The dev CA and the default certificate (listed first).
    dev_certs(certs, "default.test")
    wild_crt, wild_key = make_cert(certs, "wildcard-shop", "*.shop.test", "*.shop.test")
    cn_crt, cn_key = make_cert(certs, "wildcard-legacy", "*.legacy.test", None)
    backend = h.backend("a")
    port = free_port()
    lb = h.balancer(f"""\
workers: 2
shutdown_timeout: 2s
listeners:
  - name: tls
    address: 127.0.0.1:{port}
    tls:
      certificates:
        - {{ cert: {certs}/default.test.crt, key: {certs}/default.test.key }}
        - {{ cert: {wild_crt}, key: {wild_key} }}
        - {{ cert: {cn_crt}, key: {cn_key} }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend.port} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
""", port)

    with h.step("api.shop.test gets the *.shop.test certificate (subject and SAN)"):
        for sni in ("api.shop.test", "API.Shop.Test", "www.shop.test"):
            subject, san = served_certificate(port, "-servername", sni)
            h.expect_eq(subject, "CN = *.shop.test", f"subject served for SNI {sni}")
            h.expect("DNS:*.shop.test" in (san or ""), f"SAN served for SNI {sni}: {san!r}")

    with h.step("a wildcard is one label: shop.test and a.b.shop.test get the default"):
        for sni in ("shop.test", "a.b.shop.test", "x.y.api.shop.test", "apishop.test"):
            subject, _ = served_certificate(port, "-servername", sni)
            h.expect_eq(subject, "CN = default.test", f"subject served for SNI {sni}")

    with h.step("unknown names and clients without SNI get the default"):
        subject, _ = served_certificate(port, "-servername", "other.test")
        h.expect_eq(subject, "CN = default.test", "subject served for SNI other.test")
        subject, _ = served_certificate(port, "-noservername")
        h.expect_eq(subject, "CN = default.test", "subject served without SNI")

    with h.step("a wildcard only in the CN (no SAN) is matched too"):
        subject, san = served_certificate(port, "-servername", "old.legacy.test")
        h.expect_eq(subject, "CN = *.legacy.test", "subject served for SNI old.legacy.test")
        h.expect_eq(san, "", "that certificate has no SAN")

    with h.step("a verifying client reaches the backend through the wildcard certificate"):
        r = subprocess.run(["curl", "-sS", "--cacert", str(certs / "ca.crt"), "--resolve",
                            f"api.shop.test:{port}:127.0.0.1", "-o", "/dev/null", "-w",
                            "%{http_code}", f"https://api.shop.test:{port}/headers"],
                           capture_output=True, timeout=30)
        h.expect_eq(r.stdout.decode(), "200",
                    f"curl https://api.shop.test with hostname verification ({r.stderr[-300:]!r})")
    h.expect(lb.alive(), "the balancer still runs")


if __name__ == "__main__":
    run(test)
