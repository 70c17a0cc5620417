"""A stalled response does not hold the client and a pooled connection forever:
`upstreams.NAME.read_timeout` (the longest gap between two reads of a response once its head
came) cuts a backend that goes silent mid-body, but not one that is slow and steady; and
`timeouts.client_write` closes a client that leaves its response unread."""
import socket
import time

from harness import run

CONFIG = """\
workers: 1
shutdown_timeout: 2s
timeouts: {{ client_write: 1s }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend} }}]
    request_timeout: 30s
    read_timeout: 1s
routes:
  - {{ match: {{ path_prefix: / }}, upstream: app }}
"""


def read_until_closed(sock, deadline_s):
    """Everything the socket gives until the peer closes it or `deadline_s` passes; returns
    (bytes, closed, seconds it took)."""
    start = time.monotonic()
    data = b""
    sock.settimeout(0.5)
    while time.monotonic() - start < deadline_s:
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True, time.monotonic() - start
        if not piece:
            return data, True, time.monotonic() - start
        data += piece
    return data, False, time.monotonic() - start


def test(h):
    backend = h.backend("a")
    lb = h.balancer(CONFIG.format(backend=backend.port))

    with h.step("a backend silent mid-body past read_timeout: the client's response is cut"):
        sock = socket.create_connection(("127.0.0.1", lb.port), timeout=5)
        sock.sendall(b"GET /stall?after=100&s=20 HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed, took = read_until_closed(sock, 15)
        sock.close()
        h.expect(data.startswith(b"HTTP/1.1 200"), f"the head came: {data[:40]!r}")
        h.expect(data.endswith(b"x" * 100), "the first 100 body bytes came")
        h.expect(closed, f"the connection was closed (after {took:.1f} s, not the 20 s stall)")
        # Not before read_timeout (1 s), well before the backend's 20 s.
        h.expect(0.9 <= took < 12, f"cut after {took:.1f} s, read_timeout is 1 s")

    with h.step("a slow but steady backend (a piece every 0.4 s) is not cut"):
        r = lb.get("/trickle?n=6&ms=400", timeout=30)
        h.expect_eq((r.status, r.body), (200, b"0123456789" * 6), "the whole trickled body")

    with h.step("a client that leaves a large response unread is closed after client_write"):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(("127.0.0.1", lb.port))
        sock.sendall(b"GET /bytes?n=67108864 HTTP/1.1\r\nHost: x\r\n\r\n")
        # Read nothing for 6 s: the balancer's output fills and stays above its high water.
        time.sleep(6)
        data, closed, _ = read_until_closed(sock, 20)
        sock.close()
        h.expect(closed, f"the balancer closed the connection ({len(data)} bytes came, then "
                         f"{'the end' if closed else 'nothing more'})")
        h.expect(len(data) < 64 * 1024 * 1024, f"the response was cut ({len(data)} bytes came)")

    with h.step("a client that reads slowly but steadily gets the whole response"):
        sock = socket.create_connection(("127.0.0.1", lb.port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /bytes?n=4194304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = 0
        start = time.monotonic()
        while time.monotonic() - start < 60:
            piece = sock.recv(256 * 1024)
            if not piece:
                break
            got += len(piece)
            time.sleep(0.05)
        sock.close()
        h.expect(got > 4194304, f"all 4 MiB and the head came ({got} bytes)")


if __name__ == "__main__":
    run(test)
