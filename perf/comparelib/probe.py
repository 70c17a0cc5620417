"""Plain HTTP(S) requests from this script: is a proxy ready, does a route answer as
configured."""
import http.client
import ssl
import time


def client_tls_context():
    """Like wrk: no certificate verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def http_get(port, path, timeout=2.0, tls=False, headers=None):
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=client_tls_context())
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def wait_ready(port, path, expect_len, proc=None, timeout=15.0, tls=False, headers=None):
    """None once GET path answers 200 with expect_len body bytes, else why not."""
    deadline = time.time() + timeout
    last = "no answer"
    while time.time() < deadline:
        if proc is not None and proc.exited():
            return f"{proc.exit_desc()} during start-up"
        try:
            status, body = http_get(port, path, tls=tls, headers=headers)
            if status == 200 and len(body) == expect_len:
                return None
            last = f"GET {path} -> {status}, {len(body)} body bytes (expected 200, {expect_len})"
        except OSError as e:   # ssl.SSLError included
            last = f"GET {'https' if tls else 'http'}://127.0.0.1:{port}{path}: {e}"
        except http.client.HTTPException as e:
            last = f"GET {path}: {type(e).__name__}: {e}"
        time.sleep(0.1)
    return f"not ready after {timeout:.0f}s: {last}"


class RouteChecks:
    """Expected answers of a config's routes, checked on each start; `surprises` lists what
    differed."""

    def __init__(self, port):
        self.port = port
        self.surprises = []

    def expect(self, path, status, headers=None, what=""):
        try:
            st, body = http_get(self.port, path, headers=headers)
        except (OSError, http.client.HTTPException) as e:
            self.surprises.append(f"GET {path}{what}: {e}")
            return
        if st != status:
            self.surprises.append(f"GET {path}{what} -> {st} (expected {status}): {body[:120]!r}")
