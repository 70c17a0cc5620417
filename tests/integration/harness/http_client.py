"""Requests through http.client: one call, one response, with its time."""
import hashlib
import http.client
import json
import time

def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers      # http.client.HTTPMessage: case-insensitive .get()
        self.body = body
        self.elapsed = elapsed

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {len(self.body)}B {self.body[:200]!r}>"


def _chunks(data, size=64 * 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def http_request(port, method, path, body=None, headers=None, chunked=False, timeout=30,
                 conn=None):
    """One request; a fresh connection unless `conn` (an HTTPConnection to reuse) is given.
    `chunked=True` sends the body with Transfer-Encoding: chunked."""
    headers = dict(headers or {})
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            conn.request(method, path, body=_chunks(body or b""), headers=headers,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data, time.monotonic() - start)
    finally:
        if own:
            conn.close()
