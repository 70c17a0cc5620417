#!/usr/bin/env python3
"""TLS session tickets end to end (README, Edge security: "Session tickets are encrypted with
keys shared by all workers and rotated every 6 hours (the previous key still decrypts)"),
with openssl s_client -sess_out/-sess_in, TLS 1.3 and 1.2: a ticket resumes on either worker;
each resumption hands the client a new ticket under the same key; a SIGHUP reload keeps the
keys; a ticket under a key the balancer no longer holds (here: from before a restart) gets a
full handshake and a new ticket under the new key.

The rotation itself runs on a fixed 6 h timer (balancer/server/server.cc, kTicketKeyRotationMs; no
config key), which no test can wait for: tests/common/tls/ticket_keys_test.cc rotates the keys
directly and checks that a ticket resumes after one rotation (renewed under the new key) and
not after two."""
import os
import re
import signal
import subprocess

from harness import dev_certs, free_port, http_request, run, wait_for

REQUEST = b"GET /headers HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
RESUMPTIONS = 6  # with two workers, some land on the worker that did not issue the ticket


def s_client(port, *args):
    # A whole request read to the server's close: TLS 1.3 tickets come after the handshake.
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        "shop.test", "-ign_eof", *map(str, args)], input=REQUEST,
                       capture_output=True, timeout=15)
    return r.stdout.decode(errors="replace")


def ticket(session_file):
    """The ticket bytes in an s_client -sess_out file (b"" if none)."""
    text = subprocess.run(["openssl", "sess_id", "-in", str(session_file), "-noout", "-text"],
                          capture_output=True, text=True, timeout=15).stdout
    _, _, dump = text.partition("TLS session ticket:")
    hex_bytes = []
    for line in dump.splitlines()[1:]:
        m = re.match(r"^\s*[0-9a-f]{4} - (.*)$", line)
        if not m:
            break
        hex_bytes += re.findall(r"\b[0-9a-f]{2}\b", m.group(1).split("   ")[0].replace("-", " "))
    return bytes.fromhex("".join(hex_bytes))


def key_name(ticket_bytes):
    return ticket_bytes[:16]  # the name of the key that encrypted the ticket


def config(port, admin_port, certs, backend_port):
    return f"""\
workers: 2
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
listeners:
  - name: tls
    address: 127.0.0.1:{port}
    tls:
      certificates:
        - {{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
"""


def test(h):
    certs = h.dir / "certs"
    dev_certs(certs, "shop.test")
    backend = h.backend("a")
    port, admin_port = free_port(), free_port()
    lb = h.balancer(config(port, admin_port, certs, backend.port), port)
    first = {}  # version flag -> the session file of its first, full handshake

    for version in ("-tls1_3", "-tls1_2"):
        with h.step(f"{version}: a ticket resumes, whichever worker takes the connection"):
            first[version] = h.dir / f"first{version}.pem"
            out = s_client(port, version, "-sess_out", first[version])
            h.expect("New, TLSv1." in out and "HTTP/1.1 200" in out, f"full handshake: {out[-300:]!r}")
            h.expect(len(ticket(first[version])) > 16, "the client got a ticket")
            reused = sum("Reused, TLSv1." in s_client(port, version, "-sess_in", first[version])
                         for _ in range(RESUMPTIONS))
            h.expect_eq(reused, RESUMPTIONS, "resumed handshakes")

    with h.step("-tls1_3: a resumption hands out a new ticket under the same key"):
        renewed = h.dir / "renewed-tls1_3.pem"
        out = s_client(port, "-tls1_3", "-sess_in", first["-tls1_3"], "-sess_out", renewed)
        h.expect("Reused, TLSv1.3" in out, "resumed")
        old, new = ticket(first["-tls1_3"]), ticket(renewed)
        h.expect(len(new) > 16 and new != old, "a new ticket, not the one presented")
        h.expect_eq(key_name(new), key_name(old), "the key name of the new ticket")
        h.expect("Reused, TLSv1.3" in s_client(port, "-tls1_3", "-sess_in", renewed),
                 "the new ticket resumes too")

    with h.step("-tls1_2: a resumed handshake carries a NewSessionTicket"):
        # s_client writes no -sess_out file for a resumed TLS 1.2 session; -msg shows the
        # server's messages instead.
        out = s_client(port, "-tls1_2", "-sess_in", first["-tls1_2"], "-msg")
        h.expect("Reused, TLSv1.2" in out, "resumed")
        h.expect(re.search(r"^<<< TLS 1\.2, Handshake \[length \w+\], NewSessionTicket$", out,
                           re.M), "the server sent a NewSessionTicket in the resumed handshake")

    with h.step("a SIGHUP reload keeps the ticket keys"):
        os.kill(lb.pid, signal.SIGHUP)

        def reloads():
            text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
            m = re.search(r'^balancer_config_reloads_total\{result="success"\} (\S+)$', text, re.M)
            return float(m.group(1)) if m else 0.0

        h.expect(wait_for(lambda: reloads() >= 1, 10), "the reload succeeded")
        for version, session in first.items():
            h.expect("Reused, TLSv1." in s_client(port, version, "-sess_in", session),
                     f"{version}: the ticket from before the reload resumes")

    with h.step("a ticket under a key the balancer does not hold: full handshake, new ticket"):
        code, killed = lb.terminate()
        h.expect(code == 0 and not killed, f"the first balancer stopped (exit {code})")
        h.balancer(config(port, admin_port, certs, backend.port), port)  # new process, new keys
        for version, session in first.items():
            fresh = h.dir / f"fresh{version}.pem"
            out = s_client(port, version, "-sess_in", session, "-sess_out", fresh)
            h.expect("New, TLSv1." in out and "HTTP/1.1 200" in out,
                     f"{version}: a full handshake, answered: {out[-300:]!r}")
            new = ticket(fresh)
            h.expect(len(new) > 16 and key_name(new) != key_name(ticket(session)),
                     f"{version}: a new ticket under another key")
            h.expect("Reused, TLSv1." in s_client(port, version, "-sess_in", fresh),
                     f"{version}: that new ticket resumes")


if __name__ == "__main__":
    run(test)
