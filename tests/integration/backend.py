#!/usr/bin/env python3
"""Test origin server for the balancer integration tests.

    python3 backend.py --port P --name NAME [--verbose]

Every response carries `X-Backend: NAME`. Endpoints (any method unless noted):

    /health               200 "ok", or 503 after /admin/unhealthy (200 again after /admin/healthy)
    /echo                 the request body, byte for byte; headers X-Echo-Method, X-Echo-Path
                          (the request target as the backend saw it) and X-Echo-Body-Sha256
    /headers              JSON {backend, method, path, headers: [[name, value], ...], body_length}
    /bytes?n=N            N deterministic bytes (see deterministic_bytes)
    /slow?ms=N            the /headers JSON, after N ms
    /hang?s=N             sleeps N seconds (default 30, at most 60), then answers like /headers
    /die                  reads the request (body included), then the process exits (os._exit)
    /hop                  a response carrying hop-by-hop headers (Connection: X-Hop, X-Hop, Keep-Alive)
    /stats                JSON {name, connections, requests, by_path: {"METHOD /path": count}}
    anything else         the /headers JSON (so routing tests can see the path that arrived)

`?chunked=1` on any endpoint answers with Transfer-Encoding: chunked instead of Content-Length.
Request bodies may be sent with Content-Length or chunked (decoded here: http.server does not).
`connections` counts accepted TCP connections (including the one asking for /stats);
`requests` counts every request received except /stats (counted before its body is read).
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
        self.by_path = {}

    def connection(self):
        with self.lock:
            self.connections += 1

    def request(self, method, path):
        with self.lock:
            self.requests += 1
            key = f"{method} {path}"
            self.by_path[key] = self.by_path.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections, "requests": self.requests,
                    "by_path": dict(self.by_path)}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, name, verbose):
        super().__init__(address, Handler)
        self.name = name
        self.verbose = verbose
        self.healthy = True
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
        try:
            super().handle()
        except ConnectionError:  # the peer went away (reset, broken pipe): not our problem
            self.close_connection = True

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
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        chunked = query.get("chunked") == "1"
        path = url.path
        if path != "/stats":
            self.server.stats.request(self.command, path)
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send(400, str(e).encode(), "text/plain")
            return

        if path == "/health":
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
        elif path == "/stats":
            self.send_json(200, dict(name=self.server.name, **self.server.stats.snapshot()))
        else:
            self.send_json(200, self.describe(body), chunked=chunked)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    server = Server((args.host, args.port), args.name, args.verbose)
    print(f"backend {args.name} listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
