#!/usr/bin/env python3
"""Static files: a route with `static: { root, index }` instead of an upstream, served by the
balancer itself. Content types from /etc/mime.types, ETag/Last-Modified and 304s, Range
(206/416), HEAD, precompressed siblings by Accept-Encoding, a folder's index (301 without its
slash, never a listing), and every traversal shape refused (400 or 404), never a byte from
outside the root. The root is relative to the configuration file's folder."""
import gzip
import os
import re

from harness import run, http_request

try:  # Debian's python3-brotli and python3-zstandard; pyenv's python may lack them
    import brotli
except ImportError:
    brotli = None
try:
    import zstandard
except ImportError:
    zstandard = None

SCRIPT = (b"// the storefront's script\n" + b"console.log('order status');\n" * 200)
BIG = os.urandom(300 * 1024)  # several pulls of the body, read on the thread pool


def config(backend_port):
    return f"""\
workers: 1
shutdown_timeout: 2s
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
admin: {{ address: 127.0.0.1:0 }}
upstreams:
  app:
    backends:
      - {{ address: 127.0.0.1:{backend_port} }}
routes:
  - match: {{ path_prefix: /api }}
    upstream: app
  - match: {{ path_prefix: /static }}
    static: {{ root: web, index: index.html }}
    strip_prefix: /static
"""


def make_tree(h):
    web = h.dir / "web"
    (web / "docs").mkdir(parents=True)
    (web / "nolist").mkdir()
    (web / "index.html").write_text("<!doctype html><title>shop</title>\n")
    (web / "docs" / "index.html").write_text("<p>docs</p>\n")
    (web / "nolist" / "a.txt").write_text("a\n")
    (web / "style.css").write_text("body { color: #333 }\n")
    (web / "data.json").write_text('{"ok": true}\n')
    (web / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    (web / "big.bin").write_bytes(BIG)
    (web / "app.js").write_bytes(SCRIPT)
    (web / "app.js.gz").write_bytes(gzip.compress(SCRIPT))
    (web / "app.js.br").write_bytes(brotli.compress(SCRIPT) if brotli else b"BR" * 10)
    (web / "app.js.zst").write_bytes(zstandard.ZstdCompressor().compress(SCRIPT)
                                     if zstandard else b"ZSTD" * 10)
    (h.dir / "secret.txt").write_text("SECRET outside the root\n")
    os.symlink(h.dir / "secret.txt", web / "leak.txt")
    os.symlink(h.dir, web / "up")
    return web


def test(h):
    backend = h.backend("api")
    web = make_tree(h)
    lb = h.balancer(config(backend.port))

    def get(path, headers=None, method="GET"):
        return http_request(lb.port, method, path, headers=headers)

    with h.step("content types from /etc/mime.types, with charset for text"):
        for path, expected in [("/static/style.css", "text/css; charset=utf-8"),
                               ("/static/data.json", "application/json"),
                               ("/static/logo.svg", "image/svg+xml; charset=utf-8"),
                               ("/static/app.js", "text/javascript; charset=utf-8"),
                               ("/static/big.bin", "application/octet-stream")]:
            r = get(path)
            h.expect_eq(r.status, 200, f"{path} status")
            h.expect_eq(r.header("Content-Type"), expected, f"{path} Content-Type")
        r = get("/static/big.bin")
        h.expect(r.body == BIG, f"big.bin byte for byte ({len(r.body)} of {len(BIG)} bytes)")
        h.expect_eq(r.header("Content-Length"), str(len(BIG)), "big.bin Content-Length")
        h.expect_eq(r.header("Accept-Ranges"), "bytes", "Accept-Ranges")
        h.expect_eq(get("/api/x").status, 200, "the upstream route still proxies")

    with h.step("ETag and Last-Modified; 304 for If-None-Match and If-Modified-Since"):
        r = get("/static/style.css")
        etag, modified = r.header("ETag"), r.header("Last-Modified")
        h.expect(etag and re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag), f"ETag {etag!r}")
        h.expect(modified and modified.endswith(" GMT"), f"Last-Modified {modified!r}")
        r = get("/static/style.css", {"If-None-Match": etag})
        h.expect_eq(r.status, 304, "If-None-Match status")
        h.expect_eq(r.body, b"", "304 body")
        h.expect_eq(r.header("ETag"), etag, "304 ETag")
        h.expect_eq(get("/static/style.css", {"If-None-Match": "W/" + etag}).status, 304,
                    "weak If-None-Match")
        h.expect_eq(get("/static/style.css", {"If-Modified-Since": modified}).status, 304,
                    "If-Modified-Since")
        h.expect_eq(get("/static/style.css", {"If-None-Match": '"other"',
                                              "If-Modified-Since": modified}).status, 200,
                    "If-None-Match decides over If-Modified-Since")
        h.expect_eq(get("/static/style.css", {"If-Match": '"other"'}).status, 412, "If-Match")
        (web / "style.css").write_text("body { color: #000; margin: 0 }\n")
        r = get("/static/style.css", {"If-None-Match": etag})
        h.expect_eq(r.status, 200, "a changed file is sent again")
        h.expect(r.header("ETag") != etag, "with a new ETag")

    with h.step("Range: 206 with Content-Range, 416 with bytes */len, If-Range"):
        r = get("/static/big.bin", {"Range": "bytes=100-199"})
        h.expect_eq(r.status, 206, "status")
        h.expect_eq(r.header("Content-Range"), f"bytes 100-199/{len(BIG)}", "Content-Range")
        h.expect(r.body == BIG[100:200], "the range's bytes")
        r = get("/static/big.bin", {"Range": "bytes=-1000"})
        h.expect(r.status == 206 and r.body == BIG[-1000:], "a suffix range")
        r = get("/static/big.bin", {"Range": f"bytes={len(BIG)}-"})
        h.expect_eq(r.status, 416, "unsatisfiable")
        h.expect_eq(r.header("Content-Range"), f"bytes */{len(BIG)}", "416 Content-Range")
        r = get("/static/big.bin", {"Range": "bytes=0-9", "If-Range": '"stale"'})
        h.expect(r.status == 200 and r.body == BIG, "a stale If-Range gets the whole file")
        etag = get("/static/big.bin", method="HEAD").header("ETag")
        r = get("/static/big.bin", {"Range": "bytes=0-9", "If-Range": etag})
        h.expect(r.status == 206 and r.body == BIG[:10], "a current If-Range gets the range")

    with h.step("HEAD: the GET's head, no body, the connection stays in step"):
        conn = lb.raw()
        conn.send(b"HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /static/data.json HTTP/1.1\r\nHost: t\r\n\r\n")
        head = conn.read_response(head=True)
        h.expect_eq(head.status, 200, "HEAD status")
        h.expect_eq(head.header("Content-Length"), str(len(BIG)), "HEAD Content-Length")
        nxt = conn.read_response()
        h.expect_eq(nxt.body, b'{"ok": true}\n', "the next response on the connection")
        conn.close()
        h.expect_eq(get("/static/data.json", method="POST").status, 405, "POST is 405")

    with h.step("precompressed siblings by Accept-Encoding, with Vary"):
        plain = get("/static/app.js")
        h.expect(plain.body == SCRIPT and plain.header("Content-Encoding") is None, "identity")
        h.expect_eq(plain.header("Vary"), "Accept-Encoding", "Vary")
        for accept, coding, suffix in [("gzip", "gzip", ".gz"),
                                       ("gzip, deflate, br", "br", ".br"),
                                       ("gzip, br, zstd", "zstd", ".zst"),
                                       ("zstd;q=0.5, gzip", "gzip", ".gz")]:
            r = get("/static/app.js", {"Accept-Encoding": accept})
            h.expect_eq(r.header("Content-Encoding"), coding, f"{accept!r}: coding")
            h.expect(r.body == (web / ("app.js" + suffix)).read_bytes(),
                     f"{accept!r}: the sibling's bytes")
            h.expect_eq(r.header("Content-Type"), "text/javascript; charset=utf-8",
                        f"{accept!r}: the original's type")
        h.expect(gzip.decompress(get("/static/app.js", {"Accept-Encoding": "gzip"}).body)
                 == SCRIPT, "gzip round trip")
        if brotli:
            body = get("/static/app.js", {"Accept-Encoding": "br"}).body
            h.expect(brotli.decompress(body) == SCRIPT, "brotli round trip")
        if zstandard:
            body = get("/static/app.js", {"Accept-Encoding": "zstd"}).body
            h.expect(zstandard.ZstdDecompressor().decompress(body) == SCRIPT,
                     "zstd round trip")
        h.expect_eq(get("/static/app.js", {"Accept-Encoding": "gzip;q=0, identity"})
                    .header("Content-Encoding"), None, "gzip refused")

    with h.step("folders: the index, 301 without the slash, no listing"):
        h.expect_eq(get("/static/").body, b"<!doctype html><title>shop</title>\n", "root index")
        h.expect_eq(get("/static/docs/").body, b"<p>docs</p>\n", "docs index")
        r = get("/static/docs?x=1")
        h.expect_eq(r.status, 301, "folder without slash")
        h.expect_eq(r.header("Location"), "/static/docs/?x=1", "Location")
        r = get("/static")
        h.expect_eq((r.status, r.header("Location")), (301, "/static/"), "the route's root")
        r = get("/static/nolist/")
        h.expect_eq(r.status, 404, "a folder without an index is not listed")
        h.expect(b"a.txt" not in r.body, "no file names in the answer")

    with h.step("every traversal shape is refused (400 or 404), nothing from outside"):
        for path in ["/static/../secret.txt", "/static/../../secret.txt",
                     "/static/%2e%2e/secret.txt", "/static/%2e%2e/%2e%2e/secret.txt",
                     "/static/%2E%2E%2Fsecret.txt", "/static/..%2fsecret.txt",
                     "/static/docs%2f..%2f..%2fsecret.txt", "/static/secret.txt%00.css",
                     "/static/%00", "/static/..%5csecret.txt", "/static/..%5Cup%5Csecret.txt",
                     "/static/%252e%252e/secret.txt", "/static/%252e%252e%252fsecret.txt",
                     "/static/leak.txt", "/static/up/secret.txt", "/static/up/",
                     "/static/./../secret.txt", "/static//../secret.txt"]:
            conn = lb.raw()
            conn.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            try:
                r = conn.read_response()
                h.expect(r.status in (400, 404), f"{path}: {r.status}")
                h.expect(b"SECRET" not in r.body, f"{path}: no secret in the body")
            finally:
                conn.close()

    with h.step("metrics label the static route's upstream 'static'"):
        text = http_request(lb.admin_port, "GET", "/metrics").body.decode()
        h.expect('upstream="static"' in text, "a series with upstream=\"static\"")


if __name__ == "__main__":
    run(test)
