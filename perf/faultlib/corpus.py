"""The malformed-request corpus: test_smuggling.py's shapes (each followed by a smuggled GET)
and malformed requests (test_malformed.py's and more, each against RFC 9112). Every entry is
(name, bytes, leading well-formed requests before the bad one)."""
from test_smuggling import SHAPES, smuggled

MALFORMED = {
    "header-without-colon": b"GET /m HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    "tls-hello-on-plain": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    "not-a-request-line": b"HELLO THERE\r\n\r\n",
    "nul-bytes": b"\x00\x00\x00\x00\r\n\r\n",
    "http-0.9": b"GET /m\r\n\r\n",
    "version-2.0": b"GET /m HTTP/2.0\r\nHost: x\r\n\r\n",
    "version-garbage": b"GET /m HTTP/1.x\r\nHost: x\r\n\r\n",
    "method-bad-char": b"GE(T /m HTTP/1.1\r\nHost: x\r\n\r\n",
    "space-in-target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "control-in-target": b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-absolute-target": b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "lf-only-lines": b"GET /m HTTP/1.1\nHost: x\n\n",
    "name-not-token": b"GET /m HTTP/1.1\r\nHost: x\r\nBad[Name]: v\r\n\r\n",
    "empty-name": b"GET /m HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
    "8bit-name": b"GET /m HTTP/1.1\r\nHost: x\r\nX\xffY: v\r\n\r\n",
    "del-in-value": b"GET /m HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n",
    "no-host-http-1.1": b"GET /m HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
    "two-hosts": b"GET /m HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "cl-not-a-number": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "cl-negative": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "cl-plus-sign": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    "cl-list": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl-overflow": b"POST /m HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 99999999999999999999999\r\n\r\n",
    "two-different-cl": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        b"Content-Length: 6\r\n\r\nhello!",
    "te-twice": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-unknown": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te-vertical-tab": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n"
                       b"0\r\n\r\n",
    "te-in-http-1.0": b"POST /m HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunk-without-crlf": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5\r\nhelloX0\r\n\r\n",
    "chunk-ext-control": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5;\x01\r\nhello\r\n0\r\n\r\n",
    "chunk-negative": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"-5\r\nhello\r\n0\r\n\r\n",
    "trailer-without-colon": b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"0\r\nBad Trailer\r\n\r\n",
    "header-over-limit": b"GET /m HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 12000 + b"\r\n\r\n",
    "too-many-headers": b"GET /m HTTP/1.1\r\nHost: x\r\n"
                        + b"".join(b"X-H%d: v\r\n" % i for i in range(30)) + b"\r\n",
    "target-over-limit": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "body-over-limit": b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n",
    "connect-method": b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
}

GOOD = b"GET /good HTTP/1.1\r\nHost: x\r\n\r\n"

# The balancer's limits for the corpus (what test_malformed.py uses).
LIMITS = "limits: { max_header_bytes: 8192, max_headers: 20, max_body_size: 1MiB }"


def entries():
    """[(name, bytes, number of well-formed requests in front of the bad one)]"""
    out = [(f"smuggling/{name}", data + smuggled(name), 0) for name, (data, _) in SHAPES.items()]
    out += [(f"malformed/{name}", data, 0) for name, data in MALFORMED.items()]
    # The same after a good request on the same connection (a keep-alive client turning bad).
    out += [(f"after-good/{name}", GOOD + data, 1) for name, data in MALFORMED.items()]
    return out
