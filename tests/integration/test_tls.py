#!/usr/bin/env python3
"""TLS termination: certificates by SNI, TLS 1.2 and 1.3, ALPN, resumption across workers (the
worker that handled a connection is read from /proc: the epoll set holding its socket),
bad clients closed without disturbing others, large bodies, redirect, certificate reload."""
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time

from harness import dev_certs, free_port, run

HOSTS = ("shop.test", "api.shop.test")


def make_certs(h, subdir):
    certs = h.dir / subdir
    dev_certs(certs, *HOSTS)
    return certs


def tls_config(port, redirect_port, backend_port, certs):
    return f"""\
workers: 2
shutdown_timeout: 2s
limits: {{ max_body_size: 64MiB }}
listeners:
  - name: tls
    address: 127.0.0.1:{port}
    tls:
      certificates:
        - {{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}
        - {{ cert: {certs}/api.shop.test.crt, key: {certs}/api.shop.test.key }}
  - name: redirect
    address: 127.0.0.1:{redirect_port}
    redirect_to_https: true
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend_port} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
"""


def s_client(port, *args, stdin=b""):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                       input=stdin, capture_output=True, timeout=15)
    return r.stdout.decode(errors="replace")


def curl(port, host, path, *args):
    r = subprocess.run(["curl", "-sS", "--cacert", str(CERTS / "ca.crt"), "--resolve",
                        f"{host}:{port}:127.0.0.1", "-o", "-", "-w", "\n%{http_code}",
                        *args, f"https://{host}:{port}{path}"],
                       capture_output=True, timeout=30)
    out = r.stdout
    body, _, code = out.rpartition(b"\n")
    return int(code or b"0"), body


def tls_socket(port, host, ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["http/1.1"])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname=host)


def get_over(sock, path="/"):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: shop.test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0].decode(), body


def socket_inode(local_port, remote_port):
    """The inode of the loopback TCP socket bound to local_port and connected from
    remote_port, from /proc/net/tcp (None when absent)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if (int(cols[1].rsplit(":", 1)[1], 16) == local_port
                        and int(cols[2].rsplit(":", 1)[1], 16) == remote_port):
                    return cols[9]
    return None


def worker_handling(pid, lb_port, client_port):
    """Which event loop (worker) of the balancer holds the connection from client_port: each
    worker's libuv loop has its own epoll instance, and the accepted socket is in the epoll
    set of the worker that serves it. Returns that epoll fd's number, or None."""
    inode = socket_inode(lb_port, client_port)
    links = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            links[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    conn_fds = {fd for fd, link in links.items() if inode and link == f"socket:[{inode}]"}
    for fd, link in links.items():
        if link != "anon_inode:[eventpoll]":
            continue
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            watched = {int(line.split()[1]) for line in f if line.startswith("tfd:")}
        if conn_fds & watched:
            return fd
    return None


def serial_of(port, host):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"],
                         input=s_client(port, "-servername", host).encode(),
                         capture_output=True).stdout.decode()
    return out.strip()


CERTS = None


def test(h):
    global CERTS
    CERTS = make_certs(h, "certs")
    backend = h.backend("a")
    port, redirect_port = free_port(), free_port()
    lb = h.balancer(tls_config(port, redirect_port, backend.port, CERTS), port)

    with h.step("SNI picks the certificate; no SNI gets the first"):
        h.expect("subject=CN = api.shop.test" in s_client(port, "-servername", "api.shop.test"),
                 "api.shop.test certificate for SNI api.shop.test")
        h.expect("subject=CN = shop.test" in s_client(port, "-servername", "shop.test"),
                 "shop.test certificate for SNI shop.test")
        h.expect("subject=CN = shop.test" in s_client(port, "-noservername"),
                 "the first certificate without SNI")
        for host in HOSTS:
            code, body = curl(port, host, "/")
            h.expect_eq(code, 200, f"curl verifying {host} against the dev CA")

    with h.step("TLS 1.3 and TLS 1.2 both work; ALPN says http/1.1"):
        h.expect_eq(curl(port, "shop.test", "/", "--tlsv1.3")[0], 200, "TLS 1.3")
        h.expect_eq(curl(port, "shop.test", "/", "--tlsv1.2", "--tls-max", "1.2")[0], 200,
                    "TLS 1.2")
        h.expect("Protocol  : TLSv1.2" in s_client(port, "-tls1_2", "-servername", "shop.test"),
                 "s_client -tls1_2 negotiates TLS 1.2")
        h.expect("ALPN protocol: http/1.1" in s_client(port, "-alpn", "http/1.1"),
                 "ALPN http/1.1")

    with h.step("the backend is told the request came over https"):
        code, body = curl(port, "shop.test", "/headers")
        h.expect_eq(code, 200, "status")
        seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
        h.expect_eq(seen.get("x-forwarded-proto"), "https", "X-Forwarded-Proto at the backend")

    with h.step("a session ticket from one worker resumes on the other"):
        ctx = ssl.create_default_context(cafile=str(CERTS / "ca.crt"))

        def connect(session=None):
            """A TLS connection that made one request; (its worker, reused, session)."""
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                 server_hostname="shop.test", session=session) as t:
                # A whole answer read: TLS 1.3 tickets come after the handshake.
                status, _ = get_over(t)
                h.expect_eq(status, "HTTP/1.1 200 OK", "status over TLS")
                worker = worker_handling(lb.pid, port, t.getsockname()[1])
                return worker, t.session_reused, t.session

        issuer, _, ticket = connect()
        h.expect(issuer is not None, "the worker of the first connection found in /proc")
        # SO_REUSEPORT spreads connections over the workers by their port: about half of
        # these land on the worker that did not issue the ticket.
        resumed = []  # (worker, reused) of each connection presenting the ticket
        while len(resumed) < 40 and sum(w != issuer for w, _ in resumed) < 4:
            worker, reused, _ = connect(ticket)
            resumed.append((worker, reused))
        on_other = [reused for w, reused in resumed if w != issuer]
        print(f"   ticket from worker (epoll fd) {issuer}; resumptions (worker, reused): "
              f"{resumed}")
        h.expect(all(w is not None for w, _ in resumed), "every connection's worker found")
        h.expect(len(on_other) >= 4, f"connections on the other worker: {len(on_other)} of "
                                     f"{len(resumed)}")
        h.expect_eq(on_other, [True] * len(on_other),
                    "resumed on the worker that did not issue the ticket")
        h.expect_eq([r for _, r in resumed], [True] * len(resumed),
                    "resumed, on either worker")
        sess = h.dir / "session.pem"
        # A whole request, read to the server's close: a client that left right after the
        # handshake would never see a TLS 1.3 ticket.
        request = b"GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
        s_client(port, "-servername", "shop.test", "-ign_eof", "-sess_out", str(sess),
                 stdin=request)
        # Each resumption must hand out a new ticket, or every other reconnection is a full
        # handshake: chain them, each connection using the ticket the previous one received.
        chained = 0
        for i in range(6):
            nxt = h.dir / f"chain-{i}.pem"
            out = s_client(port, "-servername", "shop.test", "-ign_eof", "-sess_in", str(sess),
                           "-sess_out", str(nxt), stdin=request)
            chained += "Reused, TLS" in out
            if not nxt.exists():
                break
            sess = nxt
        h.expect_eq(chained, 6, "resumptions in a chain of 6, each from the last ticket")

    with h.step("plain HTTP and garbage on the TLS port are closed; others go on"):
        keep = tls_socket(port, "shop.test", CERTS / "ca.crt")
        status, _ = get_over(keep)
        h.expect_eq(status, "HTTP/1.1 200 OK", "first request on the kept connection")
        for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(600),
                     b"\x16\x03\x01\x00\x05hello"):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(junk)
            try:
                data = s.recv(4096)
                while data and len(data) < 8192:
                    more = s.recv(4096)
                    if not more:
                        break
                    data += more
            except (ConnectionResetError, socket.timeout) as e:
                h.expect(not isinstance(e, socket.timeout), f"closed, not left hanging: {junk[:20]!r}")
            s.close()
        status, _ = get_over(keep)
        h.expect_eq(status, "HTTP/1.1 200 OK", "the kept connection still serves")
        keep.close()

    with h.step("a 10 MiB body crosses TLS both ways byte for byte"):
        data = os.urandom(10 * 1024 * 1024)
        path = h.dir / "big.bin"
        path.write_bytes(data)
        code, body = curl(port, "shop.test", "/echo", "--data-binary", f"@{path}")
        h.expect_eq(code, 200, "status")
        h.expect_eq(hashlib.sha256(body).hexdigest(), hashlib.sha256(data).hexdigest(),
                    "sha256 of the echoed body")

    with h.step("the plain listener redirects to https with 308, keeping path and query"):
        s = socket.create_connection(("127.0.0.1", redirect_port), timeout=5)
        s.sendall(b"GET /a/b?c=1 HTTP/1.1\r\nHost: shop.test:8080\r\n\r\n")
        head = s.recv(4096).decode()
        s.close()
        h.expect(head.startswith("HTTP/1.1 308 "), f"status line: {head[:40]!r}")
        h.expect(f"Location: https://shop.test:{port}/a/b?c=1\r\n" in head, f"Location in {head!r}")

    with h.step("SIGHUP reloads certificates; open connections keep working"):
        before = serial_of(port, "shop.test")
        keep = tls_socket(port, "shop.test", CERTS / "ca.crt")
        h.expect_eq(get_over(keep)[0], "HTTP/1.1 200 OK", "before the reload")
        for ext in ("crt", "key"):
            os.remove(CERTS / f"shop.test.{ext}")
        dev_certs(CERTS, "shop.test")
        os.kill(lb.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.1)
            after = serial_of(port, "shop.test")
        h.expect(after != before and after.startswith("serial="),
                 f"new certificate served (before {before}, after {after})")
        h.expect_eq(get_over(keep)[0], "HTTP/1.1 200 OK", "the connection opened before")
        keep.close()


if __name__ == "__main__":
    run(test)
