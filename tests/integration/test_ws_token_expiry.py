#!/usr/bin/env python3
"""A WebSocket on an `auth: jwt` route lives no longer than the token that opened it: when the
token's exp plus the configured leeway passes, the balancer closes the tunnel. A token still
valid keeps its WebSocket open."""
import base64
import json
import os
import socket
import subprocess
import time

from harness import HERE, NODE, run

LEEWAY_S = 1


def mint(h):
    out = h.dir / "keys"
    out.mkdir()
    subprocess.run([NODE, str(HERE / "jwt_mint.mjs"), str(out)], check=True, cwd=str(HERE),
                   capture_output=True, timeout=30)
    return out, json.loads((out / "tokens.json").read_text())


def exp_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def open_websocket(port, token):
    """Sends the upgrade with the token in its Authorization header; returns the socket after
    the 101 (or raises)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/notifications HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\n"
               f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before the response head: {head!r}")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise AssertionError(f"no 101: {status!r}")
    return s


def closed_at(s, deadline):
    """Reads (and drops) what the backend sends until the connection closes; returns the time
    it closed, or None if it is still open at `deadline`."""
    while time.time() < deadline:
        s.settimeout(max(0.05, min(0.5, deadline - time.time())))
        try:
            if not s.recv(65536):
                return time.time()
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time()
    return None


def test(h):
    keys, tokens = mint(h)
    ws = h.ws_backend("ws")
    lb = h.balancer(f"""\
workers: 1
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
jwt:
  jwks_file: {keys / "jwks.json"}
  issuer: https://users.local
  audience: shop
  leeway: {LEEWAY_S}s
upstreams:
  ws:
    backends: [{{ address: 127.0.0.1:{ws.port} }}]
routes:
  - match: {{ path_prefix: /ws }}
    upstream: ws
    auth: jwt
""")
    ends = exp_of(tokens["short_lived"]) + LEEWAY_S
    with h.step("a WebSocket opened by a token that expires closes at exp + leeway"):
        short = open_websocket(lb.port, tokens["short_lived"])
        long_lived = open_websocket(lb.port, tokens["customer"])  # exp in 10 minutes
        h.expect(time.time() < ends - 1, "the short token is still valid after the upgrade")
        at = closed_at(short, ends + 5)
        h.expect(at is not None, "the tunnel of the expired token was closed")
        # exp is whole seconds and checked against the loop's clock: a second either way.
        h.expect(ends - 1.5 <= at <= ends + 2.5,
                 f"closed {at - ends:+.2f} s from exp + leeway")
        h.expect("WebSocket expired" in lb.log_text(), "the balancer logged why it closed it")

    with h.step("a WebSocket whose token is valid stays open"):
        h.expect(closed_at(long_lived, time.time() + 1) is None,
                 "the tunnel of the valid token is still open")
        short.close()
        long_lived.close()


if __name__ == "__main__":
    run(test)
