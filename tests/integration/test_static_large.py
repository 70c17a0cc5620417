#!/usr/bin/env python3
"""Large static files: a config whose routes are all `static` needs no `upstreams:`; a 20 MiB
file arrives byte for byte over plain TCP (where the balancer sends it with sendfile) and over
TLS (read into buffers), whole, as a Range, to a client that reads slowly (backpressure) and
on a keep-alive connection that goes on after it; a compressed file drops Accept-Ranges.
Whether sendfile carried a body shows in the balancer's read calls (/proc/PID/io syscr, which
sendfile counts once per call): a few for 20 MiB sent with it, one per 64 KiB piece read."""
import gzip
import hashlib
import http.client
import os
import re
import socket
import ssl
import time

from harness import dev_certs, free_port, run

BIG = os.urandom(20 * 1024 * 1024)
TEXT = b"".join(b"line %d of a stylesheet { color: #333 }\n" % i for i in range(2000))


def config(plain_port, tls_port, certs):
    return f"""\
workers: 2
shutdown_timeout: 2s
listeners:
  - {{ name: public, address: 127.0.0.1:{plain_port} }}
  - name: tls
    address: 127.0.0.1:{tls_port}
    tls:
      certificates:
        - {{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}
routes:
  - match: {{ path_prefix: /z }}
    static: {{ root: web }}
    strip_prefix: /z
    compress: {{ encodings: [gzip] }}
  - match: {{ path_prefix: / }}
    static: {{ root: web }}
"""


def get(port, path, headers=None, tls=False):
    """A GET on a new connection (`tls`: TLS, the certificate not checked): status, headers,
    body."""
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def read_exactly(sock, n, deadline):
    out = bytearray()
    while len(out) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(out)} of {n} bytes")
        piece = sock.recv(min(1 << 20, n - len(out)))
        if not piece:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += piece
    return bytes(out)


def read_head(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError("no head")
        piece = sock.recv(1)
        if not piece:
            raise ConnectionError("closed before the head")
        buf += piece
    fields = {}
    for line in buf.split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            fields[k.strip().lower().decode()] = v.strip().decode()
    return buf.split(b"\r\n", 1)[0].decode(), fields


def read_calls(pid):
    """Read-type system calls the process made so far (all its threads)."""
    with open(f"/proc/{pid}/io") as f:
        return int(re.search(r"^syscr: (\d+)$", f.read(), re.M).group(1))


def test(h):
    certs = h.dir / "certs"
    dev_certs(certs, "shop.test")
    web = h.dir / "web"
    web.mkdir()
    (web / "big.bin").write_bytes(BIG)
    (web / "style.css").write_bytes(TEXT)
    plain_port, tls_port = free_port(), free_port()
    lb = h.balancer(config(plain_port, tls_port, certs), port=plain_port)
    pieces = len(BIG) // (64 * 1024)  # what the balancer reads when it pulls the bytes
    digest = hashlib.sha256(BIG).hexdigest()

    with h.step("a config of static routes only starts without upstreams"):
        status, headers, body = get(plain_port, "/style.css")
        h.expect_eq(status, 200, "status")
        h.expect_eq(body, TEXT, "body")

    with h.step("20 MiB over plain TCP, byte for byte, sent with sendfile"):
        before = read_calls(lb.proc.pid)
        status, headers, body = get(plain_port, "/big.bin")
        calls = read_calls(lb.proc.pid) - before
        h.expect(calls < pieces // 4, f"{calls} read calls for {pieces} pieces: sendfile, not reads")
        h.expect_eq(status, 200, "status")
        h.expect_eq(headers.get("Content-Length"), str(len(BIG)), "Content-Length")
        h.expect_eq(hashlib.sha256(body).hexdigest(), digest, f"sha256 of {len(body)} bytes")

    with h.step("20 MiB over TLS, byte for byte, read into buffers (TLS encrypts them)"):
        before = read_calls(lb.proc.pid)
        status, headers, body = get(tls_port, "/big.bin", tls=True)
        calls = read_calls(lb.proc.pid) - before
        h.expect(calls >= pieces, f"{calls} read calls for {pieces} pieces")
        h.expect_eq(status, 200, "status")
        h.expect_eq(hashlib.sha256(body).hexdigest(), digest, f"sha256 of {len(body)} bytes")

    with h.step("a Range of it over plain TCP and over TLS"):
        lo, hi = 3 * 1024 * 1024 + 17, 15 * 1024 * 1024 + 4
        for name, port, tls in (("plain", plain_port, False), ("tls", tls_port, True)):
            status, headers, body = get(port, "/big.bin", {"Range": f"bytes={lo}-{hi}"}, tls)
            h.expect_eq(status, 206, f"{name} status")
            h.expect_eq(headers.get("Content-Range"), f"bytes {lo}-{hi}/{len(BIG)}",
                        f"{name} Content-Range")
            h.expect(body == BIG[lo:hi + 1], f"{name}: the range's {len(body)} bytes")

    with h.step("a slow reader gets every byte, then the next response on the connection"):
        sock = socket.create_connection(("127.0.0.1", plain_port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                     b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
        deadline = time.monotonic() + 60
        line, fields = read_head(sock, deadline)
        h.expect_eq(line, "HTTP/1.1 200 OK", "status line")
        time.sleep(1.0)  # the balancer meets a full socket and must wait for it
        first = read_exactly(sock, 1024 * 1024, deadline)
        time.sleep(0.5)
        body = first + read_exactly(sock, len(BIG) - len(first), deadline)
        h.expect_eq(hashlib.sha256(body).hexdigest(), digest, "sha256 after slow reads")
        line, fields = read_head(sock, deadline)
        h.expect_eq(line, "HTTP/1.1 200 OK", "next response on the connection")
        h.expect_eq(read_exactly(sock, int(fields["content-length"]), deadline), TEXT,
                    "its body")
        sock.close()

    with h.step("clients that leave mid-file: the balancer stays up and serves the next"):
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", plain_port), timeout=30)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            sock.recv(4096)
            sock.close()
        status, headers, body = get(plain_port, "/big.bin")
        h.expect_eq(hashlib.sha256(body).hexdigest(), digest, "sha256 afterwards")
        h.expect(lb.proc.poll() is None, "the balancer runs")

    with h.step("a compressed file drops Accept-Ranges; the plain one keeps it"):
        status, headers, body = get(plain_port, "/z/style.css", {"Accept-Encoding": "gzip"})
        h.expect_eq(headers.get("Content-Encoding"), "gzip", "encoded")
        h.expect_eq(headers.get("Accept-Ranges"), None, "no Accept-Ranges")
        h.expect_eq(gzip.decompress(body), TEXT, "decoded body")
        status, headers, body = get(plain_port, "/z/style.css")
        h.expect_eq(headers.get("Accept-Ranges"), "bytes", "plain: Accept-Ranges")
        h.expect_eq(body, TEXT, "plain body")

    with h.step("a compressed route's file that is not encoded is sent with sendfile too"):
        before = read_calls(lb.proc.pid)
        status, headers, body = get(plain_port, "/z/big.bin")
        calls = read_calls(lb.proc.pid) - before
        h.expect_eq(hashlib.sha256(body).hexdigest(), digest, "sha256")
        h.expect(calls < pieces // 4, f"{calls} read calls for {pieces} pieces")


if __name__ == "__main__":
    run(test)
