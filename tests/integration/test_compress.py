"""A route's `compress` end to end: the real balancer before an origin serving JSON and text.
Bodies are decoded by independent decoders (python's zlib, Debian's python3-brotli and
python3-zstandard, curl --compressed) and compared byte for byte; every skip rule, Vary, the
weak ETag, chunked framing to HTTP/1.1 and close-delimited framing to HTTP/1.0, and a 5 MiB
body that streams (its first compressed bytes reach the client before the origin is done).
"""
import os
import sys

# python3-brotli and python3-zstandard are Debian's: only Debian's interpreter imports them.
try:
    import brotli
    import zstandard
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

import hashlib
import http.server
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import zlib
from urllib.parse import parse_qs, urlsplit

from harness import http_request, parse_response, run, simple_config

BIG = 5 * 1024 * 1024


def json_body(size, seed=0):
    """Deterministic JSON-like text of exactly `size` bytes."""
    parts, n, total = [], seed, 0
    while total < size:
        item = f'{{"id":{n},"name":"product {n * 7919 % 1000}","price":{n * 31 % 10000}}},'
        parts.append(item)
        total += len(item)
        n += 1
    return ("[" + "".join(parts))[:size].encode()


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", ctype="application/json", headers=(), chunked=False,
              pause_after=None):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        no_body = code in (204, 304) or self.command == "HEAD"
        if chunked and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        elif code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if no_body:
            return
        if not chunked:
            self.wfile.write(body)
            return
        piece = 64 * 1024
        for at in range(0, len(body), piece):
            part = body[at:at + piece]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            if pause_after is not None and at + piece == pause_after:
                self.wfile.flush()
                time.sleep(1.5)
        self.wfile.write(b"0\r\n\r\n")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        size = int(q.get("size", "5000"))
        body = json_body(size)
        path = url.path
        self.server.seen.append((path, self.headers.get("Accept-Encoding")))
        if path == "/json":
            self.reply(200, body, headers=[("ETag", '"json-%d"' % size)],
                       chunked=q.get("chunked") == "1")
        elif path == "/text":
            self.reply(200, body, "text/plain; charset=utf-8", chunked=True)
        elif path == "/png":
            self.reply(200, body, "image/png")
        elif path == "/problem":
            self.reply(404, body, "application/problem+json")
        elif path == "/encoded":
            self.reply(200, zlib.compress(body, wbits=31), headers=[("Content-Encoding", "gzip")])
        elif path == "/notransform":
            self.reply(200, body, headers=[("Cache-Control", "public, no-transform")])
        elif path == "/weak":
            self.reply(200, body, headers=[("ETag", 'W/"weak-1"'), ("Vary", "Origin")])
        elif path == "/empty":
            self.reply(204, ctype="application/json")
        elif path == "/notmodified":
            self.reply(304, ctype=None, headers=[("ETag", '"json-5000"')])
        elif path == "/range":
            if self.headers.get("Range"):
                self.reply(206, body[:100], headers=[("Content-Range", "bytes 0-99/%d" % size)])
            else:
                self.reply(200, body, headers=[("Accept-Ranges", "bytes")])
        elif path == "/big":
            self.reply(200, json_body(BIG, 1), chunked=True, pause_after=1024 * 1024)
        else:
            self.reply(404, b"{}")


def start_origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    server.daemon_threads = True
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def decode(encoding, data):
    if encoding == "gzip":
        return zlib.decompress(data, wbits=31)
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def raw_exchange(port, request, timeout=20):
    """Sends `request` bytes, reads until the server closes; returns (head text, body bytes,
    seconds to the first body byte)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    start = time.monotonic()
    s.sendall(request)
    buf, first_body = b"", None
    while True:
        data = s.recv(65536)
        if not data:
            break
        buf += data
        end = buf.find(b"\r\n\r\n")
        if first_body is None and end >= 0 and len(buf) > end + 4:
            first_body = time.monotonic() - start
    s.close()
    end = buf.find(b"\r\n\r\n")
    return buf[:end].decode("latin-1"), buf[end + 4:], first_body


def dechunk(data):
    out, at = b"", 0
    while True:
        eol = data.index(b"\r\n", at)
        size = int(data[at:eol], 16)
        if size == 0:
            return out
        out += data[eol + 2:eol + 2 + size]
        at = eol + 2 + size + 2


def header(head, name):
    found = re.findall(rf"^{name}: *(.*?)\s*$", head, re.IGNORECASE | re.MULTILINE)
    return found


def test(h):
    origin = start_origin()
    h.cleanups.append(origin.shutdown)
    config = simple_config(0, [origin.server_address[1]], workers=2,
                           extra_top="admin: { address: 127.0.0.1:0 }")
    config += "    compress: { encodings: [zstd, br, gzip], min_size: 1KiB }\n"
    lb = h.balancer(config)
    plain = json_body(5000)

    for encoding in ("gzip", "br", "zstd"):
        with h.step(f"{encoding}: the JSON body round-trips byte for byte"):
            r = lb.get("/json", headers={"Accept-Encoding": encoding})
            h.expect_eq(r.status, 200, "status")
            h.expect_eq(r.header("Content-Encoding"), encoding, "Content-Encoding")
            h.expect_eq(r.header("Vary"), "Accept-Encoding", "Vary")
            h.expect_eq(r.header("ETag"), 'W/"json-5000"', "weakened ETag")
            h.expect_eq(r.header("Content-Length"), None, "no Content-Length")
            h.expect_eq(r.header("Transfer-Encoding"), "chunked", "chunked to HTTP/1.1")
            h.expect(len(r.body) < len(plain) / 3, f"compressed: {len(r.body)} bytes")
            h.expect_eq(decode(encoding, r.body), plain, "decoded body")
            # The origin saw the client's Accept-Encoding: it may compress itself.
            h.expect_eq(origin.seen[-1], ("/json", encoding), "origin's request")

    with h.step("q-values and the route's order choose; text and +json types compress"):
        cases = [("gzip, br, zstd", "zstd"), ("gzip;q=1, br;q=0.9, zstd;q=0.1", "gzip"),
                 ("br, gzip", "br"), ("*", "zstd"), ("zstd;q=0, *;q=0.5", "br"),
                 ("gzip, identity;q=0", "gzip")]
        for accept, expected in cases:
            r = lb.get("/json", headers={"Accept-Encoding": accept})
            h.expect_eq(r.header("Content-Encoding"), expected, accept)
            h.expect_eq(decode(expected, r.body), plain, f"{accept}: body")
        r = lb.get("/text", headers={"Accept-Encoding": "br"})
        h.expect_eq(r.header("Content-Encoding"), "br", "text/plain")
        h.expect_eq(decode("br", r.body), plain, "text body")
        r = lb.get("/problem", headers={"Accept-Encoding": "gzip"})
        h.expect_eq((r.status, r.header("Content-Encoding")), (404, "gzip"), "a 404 +json")
        h.expect_eq(decode("gzip", r.body), plain, "problem body")

    with h.step("curl --compressed gets the original bytes"):
        curl = shutil.which("curl")
        h.expect(curl is not None, "curl installed")
        if curl:
            p = subprocess.run([curl, "-sS", "--compressed", "-D", "-", "-o",
                                str(h.dir / "curl.out"),
                                f"http://127.0.0.1:{lb.port}/json?size=20000"],
                               capture_output=True, timeout=20)
            head = p.stdout.decode()
            h.expect_eq(p.returncode, 0, f"curl: {p.stderr!r}")
            h.expect(re.search(r"^content-encoding: (zstd|br|gzip)\r?$", head,
                               re.IGNORECASE | re.MULTILINE), f"encoded: {head}")
            h.expect_eq((h.dir / "curl.out").read_bytes(), json_body(20000), "curl's body")

    with h.step("a client that does not ask gets it plain, with Vary"):
        for accept in (None, "identity", "gzip;q=0", "deflate", "zstd;q=0, br;q=0, gzip;q=0"):
            r = lb.get("/json", headers={"Accept-Encoding": accept} if accept else {})
            h.expect_eq(r.header("Content-Encoding"), None, f"{accept}: not encoded")
            h.expect_eq(r.header("Vary"), "Accept-Encoding", f"{accept}: Vary")
            h.expect_eq(r.header("ETag"), '"json-5000"', f"{accept}: strong ETag kept")
            h.expect_eq(r.header("Content-Length"), "5000", f"{accept}: Content-Length kept")
            h.expect_eq(r.body, plain, f"{accept}: body")

    with h.step("an encoded body drops the origin's Accept-Ranges; a plain one keeps it"):
        r = lb.get("/range", headers={"Accept-Encoding": "gzip"})
        h.expect_eq(r.header("Content-Encoding"), "gzip", "encoded")
        h.expect_eq(r.header("Accept-Ranges"), None, "no Accept-Ranges on the encoded body")
        h.expect_eq(decode("gzip", r.body), plain, "decoded body")
        r = lb.get("/range")
        h.expect_eq(r.header("Content-Encoding"), None, "plain")
        h.expect_eq(r.header("Accept-Ranges"), "bytes", "Accept-Ranges kept on the plain body")

    with h.step("skip rules: each response goes out as the origin sent it"):
        gz = {"Accept-Encoding": "gzip, br, zstd"}
        r = lb.request("HEAD", "/json", headers=gz)
        h.expect_eq((r.status, r.header("Content-Encoding"), r.header("Content-Length")),
                    (200, None, "5000"), "HEAD")
        r = lb.get("/empty", headers=gz)
        h.expect_eq((r.status, r.header("Content-Encoding"), r.body), (204, None, b""), "204")
        r = lb.get("/notmodified", headers=gz)
        h.expect_eq((r.status, r.header("Content-Encoding"), r.header("ETag")),
                    (304, None, '"json-5000"'), "304")
        r = lb.get("/range", headers={**gz, "Range": "bytes=0-99"})
        h.expect_eq((r.status, r.header("Content-Encoding"), r.body), (206, None, plain[:100]),
                    "Range")
        r = lb.get("/encoded", headers=gz)
        h.expect_eq((r.header("Content-Encoding"), r.header("Vary")), ("gzip", None),
                    "already encoded")
        h.expect_eq(zlib.decompress(r.body, wbits=31), plain, "already encoded: origin's bytes")
        r = lb.get("/notransform", headers=gz)
        h.expect_eq((r.header("Content-Encoding"), r.header("Vary"), r.body), (None, None, plain),
                    "no-transform")
        r = lb.get("/json?size=1000", headers=gz)
        h.expect_eq((r.header("Content-Encoding"), r.header("Content-Length"), r.body),
                    (None, "1000", json_body(1000)), "below min_size")
        r = lb.get("/json?size=1024", headers=gz)
        h.expect_eq(r.header("Content-Encoding"), "zstd", "at min_size")
        r = lb.get("/json?size=200&chunked=1", headers={"Accept-Encoding": "gzip"})
        h.expect_eq(r.header("Content-Encoding"), "gzip", "unknown length: compressed")
        h.expect_eq(decode("gzip", r.body), json_body(200), "unknown length: body")
        r = lb.get("/png", headers=gz)
        h.expect_eq((r.header("Content-Encoding"), r.header("Vary"), r.body), (None, None, plain),
                    "type not listed")

    with h.step("an origin's Vary is kept and completed; a weak ETag stays as it was"):
        r = lb.get("/weak", headers={"Accept-Encoding": "gzip"})
        h.expect_eq(r.header("Content-Encoding"), "gzip", "encoded")
        h.expect_eq(r.headers.get_all("Vary"), ["Origin", "Accept-Encoding"], "Vary")
        h.expect_eq(r.header("ETag"), 'W/"weak-1"', "weak ETag")

    with h.step("one keep-alive connection: each response decided on its own"):
        conn = lb.connection()
        for accept, encoding, etag in (("gzip", "gzip", 'W/"json-5000"'), (None, None, '"json-5000"'),
                                       ("br", "br", 'W/"json-5000"'),
                                       ("gzip", None, '"json-1000"')):
            size = 1000 if etag == '"json-1000"' else 5000
            r = http_request(lb.port, "GET", f"/json?size={size}", conn=conn,
                             headers={"Accept-Encoding": accept} if accept else {})
            h.expect_eq((r.header("Content-Encoding"), r.header("ETag")), (encoding, etag),
                        f"{accept} size {size}")
            h.expect_eq(decode(encoding, r.body), json_body(size), f"{accept}: body")
        conn.close()

    with h.step("HTTP/1.0: the compressed body ends when the connection closes"):
        head, body, _ = raw_exchange(
            lb.port, b"GET /json HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        h.expect(head.startswith("HTTP/1.1 200"), f"status line: {head[:40]}")
        h.expect_eq(header(head, "Content-Encoding"), ["gzip"], "Content-Encoding")
        h.expect_eq(header(head, "Content-Length") + header(head, "Transfer-Encoding"), [],
                    "no framing headers")
        h.expect_eq(header(head, "Connection"), ["close"], "Connection")
        h.expect_eq(decode("gzip", body), plain, "body")

    with h.step("a 5 MiB body streams: compressed bytes arrive while the origin still sends"):
        for encoding in ("gzip", "br", "zstd"):
            head, body, first = raw_exchange(
                lb.port, b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         b"Accept-Encoding: " + encoding.encode() + b"\r\n\r\n", timeout=30)
            h.expect_eq(header(head, "Transfer-Encoding"), ["chunked"], f"{encoding}: chunked")
            data = decode(encoding, dechunk(body))
            h.expect_eq(hashlib.sha256(data).hexdigest(),
                        hashlib.sha256(json_body(BIG, 1)).hexdigest(), f"{encoding}: 5 MiB body")
            # The origin pauses 1.5 s after its first MiB: the client had bytes before that.
            h.expect(first is not None and first < 1.2,
                     f"{encoding}: first body byte after {first} s (the origin pauses at 1 MiB)")

    with h.step("/metrics counts bytes before and after, per route and encoding"):
        text = http_request(lb.admin_port, "GET", "/metrics").body.decode()
        values = {}
        for m in re.finditer(r'^balancer_compress_(input|output)_bytes_total'
                             r'\{route="0:/",encoding="(\w+)"\} (\S+)$', text, re.MULTILINE):
            values[(m.group(1), m.group(2))] = float(m.group(3))
        for encoding in ("gzip", "br", "zstd"):
            before = values.get(("input", encoding), 0)
            after = values.get(("output", encoding), 0)
            h.expect(before >= BIG, f"{encoding}: input bytes {before}")
            h.expect(0 < after < before / 2, f"{encoding}: output bytes {after} of {before}")
        promtool = shutil.which("promtool")
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=20)
            problems = (p.stdout + p.stderr).decode().strip()
            h.expect(p.returncode == 0 and not problems, f"promtool: {problems}")


if __name__ == "__main__":
    run(test)
