#!/usr/bin/env python3
"""Test origin server for the balancer integration tests.

    python3 backend.py --port P --name NAME [--verbose]
                       [--max-requests-per-conn N] [--idle-close-ms MS]

`--port 0`: the kernel picks the port; the line `backend NAME listening on HOST:PORT` on
stdout says which.

Every response carries `X-Backend: NAME`. Endpoints (any method unless noted):

    /health               200 "ok", or 503 after /admin/unhealthy (200 again after /admin/healthy)
    /admin/fail?code=N    from now on answer every other request (not /health, /stats,
                          /admin/*) with status N and a short body; code=0 stops that
    /echo                 the request body, byte for byte; headers X-Echo-Method, X-Echo-Path
                          (the request target as the backend saw it) and X-Echo-Body-Sha256
    /headers              JSON {backend, method, path, headers: [[name, value], ...], body_length}
    /bytes?n=N            N deterministic bytes (see deterministic_bytes)
    /slow?ms=N            the /headers JSON, after N ms
    /hang?s=N             sleeps N seconds (default 30, at most 60), then answers like /headers
    /die                  reads the request (body included), then the process exits (os._exit)
    /hop                  a response carrying hop-by-hop headers (Connection: X-Hop, X-Hop, Keep-Alive)
    /status?code=N        status N and no body; for 1xx/204/304 no Content-Length unless
                          &length=L asks for `Content-Length: L` (a 304's length of the resource)
    /unframed?n=N         N deterministic bytes with neither Content-Length nor chunked: the
                          body ends when the connection closes (as an HTTP/1.0-style server)
    /slowread?ms=N&chunk=K  reads the (Content-Length) body K bytes at a time (default 65536),
                          sleeping N ms (default 5) between reads; answers JSON {length, sha256}
    /cacheable[/...]?cc=CC&etag=E&lm=LM&vary=V&expires=X&ms=N&n=N&cookie=1
                          for the cache tests: Cache-Control CC, ETag E, Last-Modified LM,
                          Vary V, Expires X, Set-Cookie with cookie=1 (each only when given),
                          after N ms; a 304 when If-None-Match lists E;
                          the body (n bytes, default 64) starts with "origin hit K PATH?QUERY "
                          (K counts this server's /cacheable answers, so each origin hit differs).
                          A request whose If-None-Match equals E gets 304 (counted in
                          /stats' not_modified by path) instead
    /stats                JSON {name, connections, requests, proxied, dropped,
                          by_path: {"METHOD /path": n}, not_modified: {"/path": n}}
    anything else         the /headers JSON (so routing tests can see the path that arrived)

`?chunked=1` on any endpoint answers with Transfer-Encoding: chunked instead of Content-Length.
Request bodies may be sent with Content-Length or chunked (decoded here: http.server does not).
`connections` counts accepted TCP connections (including the one asking for /stats);
`requests` counts every request received except /stats (counted before its body is read);
`proxied` counts the same minus /health and /admin/* (health probes and the tests' own control
calls), i.e. the requests a client sent through the balancer.
`Expect: 100-continue` is answered with `100 Continue` before the body is read (http.server).

Misbehaving keep-alive, as real servers do it (both close silently: no `Connection: close`):
`--max-requests-per-conn N` serves N requests on a connection, then closes it when the next
request arrives, without reading or answering it (what a client sees when its request crosses
the server's close: the request is lost; counted in /stats as `dropped`);
`--idle-close-ms MS` closes a connection that waits more than MS for its next request.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATTERN = bytes((i * 31 + 7) % 256 for i in range(65521))  # 65521 is prime: no short period


def deterministic_bytes(n):
    """The body /bytes?n=N answers with."""
    reps, rest = divmod(n, len(PATTERN))
    return PATTERN * reps + PATTERN[:rest]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.proxied = 0
        self.dropped = 0
        self.by_path = {}
        self.not_modified = {}  # /cacheable paths answered 304
        self.cacheable_hits = 0

    def connection(self):
        with self.lock:
            self.connections += 1

    def request(self, method, path):
        with self.lock:
            self.requests += 1
            if path != "/health" and not path.startswith("/admin/"):
                self.proxied += 1
            key = f"{method} {path}"
            self.by_path[key] = self.by_path.get(key, 0) + 1

    def dropped_request(self):
        with self.lock:
            self.dropped += 1

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections, "requests": self.requests,
                    "proxied": self.proxied, "dropped": self.dropped,
                    "by_path": dict(self.by_path), "not_modified": dict(self.not_modified)}

    def cacheable(self, path, revalidated):
        """Counts a /cacheable answer: a 304 by path, else the next origin hit number."""
        with self.lock:
            if revalidated:
                self.not_modified[path] = self.not_modified.get(path, 0) + 1
                return 0
            self.cacheable_hits += 1
            return self.cacheable_hits


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # bursts of a few hundred connects must not overflow the backlog

    def __init__(self, address, name, verbose, max_requests_per_conn=0, idle_close_ms=0):
        super().__init__(address, Handler)
        self.name = name
        self.verbose = verbose
        self.max_requests_per_conn = max_requests_per_conn
        self.idle_close_ms = idle_close_ms
        self.healthy = True
        self.fail_code = 0  # /admin/fail
        self.stats = Stats()

    def process_request(self, request, client_address):
        self.stats.connection()
        super().process_request(request, client_address)


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TestBackend"
    # The head and the body go out in two writes: without TCP_NODELAY the body waits for the
    # peer's delayed ACK (~40 ms per request on a reused connection).
    disable_nagle_algorithm = True

    def handle(self):
        self.requests_on_connection = 0
        try:
            super().handle()
        except ConnectionError:  # the peer went away (reset, broken pipe): not our problem
            self.close_connection = True

    def handle_one_request(self):
        if self.server.idle_close_ms:
            # A timeout while waiting for the request line closes the connection (http.server
            # treats socket.timeout as "Request timed out"); cleared once a request arrives.
            self.connection.settimeout(self.server.idle_close_ms / 1000.0)
        super().handle_one_request()
        limit = self.server.max_requests_per_conn
        if limit and self.requests_on_connection >= limit and not self.close_connection:
            # Silently (the response said nothing about it), once the next request is here.
            self.close_connection = True
            self.connection.settimeout(60)
            try:
                if self.rfile.peek(1):
                    self.server.stats.dropped_request()
            except (OSError, ValueError):
                pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write(f"[{self.server.name}] {fmt % args}\n")

    # --- request body -------------------------------------------------------------------------

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadRequest("bad content-length")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest("body shorter than content-length")
        return data

    def read_chunked(self):
        parts = []
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BadRequest("bad chunk size line")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                break
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                raise BadRequest("truncated chunk")
            parts.append(chunk)
        while True:  # trailers, up to the empty line
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                break
        return b"".join(parts)

    # --- response ------------------------------------------------------------------------------

    def send(self, status, body=b"", content_type="application/octet-stream", headers=(),
             chunked=False):
        self.send_response(status)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if chunked:
            step = 64 * 1024
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def send_json(self, status, obj, **kw):
        self.send(status, json.dumps(obj).encode(), "application/json", **kw)

    def describe(self, body):
        return {"backend": self.server.name, "method": self.command, "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()], "body_length": len(body)}

    # --- dispatch ------------------------------------------------------------------------------

    def handle_any(self):
        self.connection.settimeout(None)
        self.requests_on_connection += 1
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        chunked = query.get("chunked") == "1"
        path = url.path
        if path != "/stats":
            self.server.stats.request(self.command, path)
        if path == "/slowread":
            self.slow_read(int(query.get("ms", "5")), int(query.get("chunk", "65536")))
            return
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send(400, str(e).encode(), "text/plain")
            return

        if (self.server.fail_code and path not in ("/health", "/stats")
                and not path.startswith("/admin/")):
            self.send(self.server.fail_code, b"failing on purpose", "text/plain")
        elif path == "/admin/fail":
            self.server.fail_code = int(query.get("code", "500"))
            self.send(200, b"ok", "text/plain")
        elif path == "/health":
            ok = self.server.healthy
            self.send(200 if ok else 503, b"ok" if ok else b"unhealthy", "text/plain",
                      chunked=chunked)
        elif path == "/admin/unhealthy":
            self.server.healthy = False
            self.send(200, b"now unhealthy", "text/plain")
        elif path == "/admin/healthy":
            self.server.healthy = True
            self.send(200, b"now healthy", "text/plain")
        elif path == "/echo":
            self.send(200, body, self.headers.get("Content-Type", "application/octet-stream"),
                      headers=[("X-Echo-Method", self.command), ("X-Echo-Path", self.path),
                               ("X-Echo-Body-Sha256", hashlib.sha256(body).hexdigest())],
                      chunked=chunked)
        elif path == "/bytes":
            n = int(query.get("n", "0"))
            self.send(200, deterministic_bytes(n), chunked=chunked)
        elif path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000.0)
            self.send_json(200, self.describe(body), chunked=chunked)
        elif path == "/hang":
            time.sleep(min(float(query.get("s", "30")), 60.0))
            self.send_json(200, self.describe(body), chunked=chunked)
        elif path == "/die":
            sys.stderr.flush()
            os._exit(3)
        elif path == "/hop":
            self.send(200, b"hop", "text/plain", chunked=chunked,
                      headers=[("Connection", "X-Hop"), ("X-Hop", "secret"),
                               ("Keep-Alive", "timeout=5"), ("X-Kept", "yes")])
        elif path == "/status":
            self.send_status_only(int(query.get("code", "204")), query.get("length"))
        elif path == "/unframed":
            self.send_unframed(deterministic_bytes(int(query.get("n", "0"))))
        elif path == "/stall":
            # The head and `after` bytes of a 2*after-byte body, then `s` seconds of silence.
            after = int(query.get("after", "100"))
            self.send_response(200)
            self.send_header("Content-Length", str(2 * after))
            self.end_headers()
            self.wfile.write(b"x" * after)
            self.wfile.flush()
            time.sleep(min(float(query.get("s", "10")), 60.0))
            self.close_connection = True
        elif path == "/trickle":
            # `n` pieces of 10 bytes, one every `ms` milliseconds: slow but never silent long.
            n, pause = int(query.get("n", "6")), int(query.get("ms", "400")) / 1000
            self.send_response(200)
            self.send_header("Content-Length", str(10 * n))
            self.end_headers()
            for _ in range(n):
                self.wfile.write(b"0123456789")
                self.wfile.flush()
                time.sleep(pause)
        elif path == "/switch":
            # 101 whatever the request asked, then bytes of "another protocol" and a close.
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             b"Upgrade: h2c\r\n\r\nnot-http-anymore")
            self.wfile.flush()
            self.close_connection = True
        elif path.endswith("/with-cors"):
            # A service that answers CORS itself, loosely: the edge's answer must replace it.
            self.send(200, b"cors", "text/plain", chunked=chunked,
                      headers=[("Access-Control-Allow-Origin", "*"),
                               ("Access-Control-Allow-Credentials", "true"), ("X-Kept", "yes")])
        elif path == "/cacheable" or path.startswith("/cacheable/"):
            self.send_cacheable(url, query)
        elif path == "/stats":
            self.send_json(200, dict(name=self.server.name, **self.server.stats.snapshot()))
        else:
            self.send_json(200, self.describe(body), chunked=chunked)

    def send_cacheable(self, url, query):
        time.sleep(int(query.get("ms", "0")) / 1000.0)
        headers = [(name, query[key]) for key, name in (
            ("cc", "Cache-Control"), ("etag", "ETag"), ("lm", "Last-Modified"), ("vary", "Vary"),
            ("expires", "Expires"))
            if key in query]
        if query.get("cookie") == "1":
            headers.append(("Set-Cookie", "session=abc; Path=/"))
        etag = query.get("etag")
        # If-None-Match is a list, and may come on several lines (a cache adds its own tag).
        listed = [t.strip() for t in ",".join(self.headers.get_all("If-None-Match") or []).split(",")]
        if etag is not None and etag in listed:
            self.server.stats.cacheable(url.path, revalidated=True)
            self.send_response(304)
            self.send_header("X-Backend", self.server.name)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            return
        hit = self.server.stats.cacheable(url.path, revalidated=False)
        n = int(query.get("n", "64"))
        head = f"origin hit {hit} {url.path}?{url.query} ".encode()
        body = (head + b"." * max(0, n - len(head)))[:max(n, 0)]
        self.send(200, body, "text/plain", headers=headers, chunked=query.get("chunked") == "1")

    def send_status_only(self, code, length):
        self.send_response(code)
        self.send_header("X-Backend", self.server.name)
        if length is not None:
            self.send_header("Content-Length", length)
        elif not (code < 200 or code in (204, 304)):
            self.send_header("Content-Length", "0")
        self.end_headers()

    def send_unframed(self, body):
        self.send_response(200)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.command != "HEAD":
            for i in range(0, len(body), 64 * 1024):
                self.wfile.write(body[i:i + 64 * 1024])
        self.close_connection = True

    def slow_read(self, pause_ms, chunk):
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        got = 0
        while got < length:
            piece = self.rfile.read1(min(chunk, length - got))
            if not piece:
                break
            digest.update(piece)
            got += len(piece)
            time.sleep(pause_ms / 1000.0)
        if got < length:
            self.close_connection = True
            return
        self.send_json(200, {"length": got, "sha256": digest.hexdigest()})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--max-requests-per-conn", type=int, default=0)
    parser.add_argument("--idle-close-ms", type=int, default=0)
    args = parser.parse_args()
    server = Server((args.host, args.port), args.name, args.verbose,
                    args.max_requests_per_conn, args.idle_close_ms)
    # The bound port, not the one asked for: with --port 0 the harness reads it from here.
    print(f"backend {args.name} listening on {args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
