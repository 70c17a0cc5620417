"""Raw sockets: arbitrary bytes sent, HTTP/1.1 responses parsed as they come back."""
import json
import socket
import time

class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.header_list = headers              # [(name, value)] as received
        self.body = body

    def header(self, name, default=None):
        for k, v in self.header_list:
            if k.lower() == name.lower():
                return v
        return default

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.body[:200]!r}>"


class Incomplete(Exception):
    pass


def parse_response(buf, closed=False, head=False):
    """Parses one HTTP/1.1 response at the start of `buf`. Returns (RawResponse, bytes used);
    raises Incomplete when more bytes are needed. A body without framing ends at close.
    `head=True`: the answer to a HEAD request, which has no body whatever its headers say."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete()
    lines = buf[:end].decode("latin-1").split("\r\n")
    version, status, *reason = lines[0].split(" ", 2)
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    resp = RawResponse(int(status), reason[0] if reason else "", headers, b"")
    pos = end + 4
    te = (resp.header("Transfer-Encoding") or "").lower()
    if head or resp.status in (204, 304) or 100 <= resp.status < 200:
        pass                                        # no body, even with a Content-Length
    elif "chunked" in te:
        body = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                raise Incomplete()
            size = int(buf[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n", pos)
                while trailer_end > pos:            # skip trailer lines
                    pos = trailer_end + 2
                    trailer_end = buf.find(b"\r\n", pos)
                if trailer_end < 0:
                    raise Incomplete()
                pos = trailer_end + 2
                break
            if len(buf) < pos + size + 2:
                raise Incomplete()
            body.append(buf[pos:pos + size])
            pos += size + 2
        resp.body = b"".join(body)
    elif resp.header("Content-Length") is not None:
        n = int(resp.header("Content-Length"))
        if len(buf) < pos + n:
            raise Incomplete()
        resp.body = buf[pos:pos + n]
        pos += n
    else:
        if not closed:
            raise Incomplete()
        resp.body = buf[pos:]
        pos = len(buf)
    return resp, pos


class RawConnection:
    """A plain TCP connection for sending arbitrary bytes and reading what comes back."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.closed = False      # the peer closed (EOF or reset)
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data")
        except ConnectionResetError:
            data = b""
            self.reset = True
        if not data:
            self.closed = True
        self.buf += data

    def read_response(self, timeout=10, head=False):
        """The next complete response (`head=True`: to a HEAD request). Raises TimeoutError,
        or ConnectionError when the peer closes before a full response arrived."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp, used = parse_response(self.buf, self.closed, head)
                self.buf = self.buf[used:]
                return resp
            except Incomplete:
                if self.closed:
                    raise ConnectionError(f"connection closed after {len(self.buf)} bytes "
                                          f"without a complete response: {self.buf[:300]!r}")
                self._fill(deadline)

    def wait_closed(self, timeout=3):
        """True when the peer closes the connection within `timeout` s (extra bytes are kept
        in self.buf)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            try:
                self._fill(deadline)
            except TimeoutError:
                return False
        return True

    def stays_quiet(self, seconds=0.3):
        """True when, within `seconds`, no byte arrives beyond the responses already read and
        the peer does not close (e.g. no body after the answer to a HEAD)."""
        try:
            self._fill(time.monotonic() + seconds)
        except TimeoutError:
            pass
        return self.buf == b"" and not self.closed

    def close(self):
        self.sock.close()


def exchange(port, data, timeout=5):
    """Sends `data` on a new connection and returns (first response or None, closed_by_peer,
    raw bytes received): reads one response, then waits up to `timeout` for the close."""
    conn = RawConnection(port, timeout)
    try:
        conn.send(data)
        try:
            resp = conn.read_response(timeout)
        except (ConnectionError, TimeoutError, ValueError):
            resp = None
        closed = conn.wait_closed(timeout) if resp is not None else conn.closed
        return resp, closed, conn.buf
    finally:
        conn.close()
