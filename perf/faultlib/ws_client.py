"""A notification client as the contract describes it: one WebSocket to /ws/notifications
through the balancer (token in ?access_token=), and when it drops, a reconnect with the last
event id it saw (?last_event_id=), so the server replays what was missed. RFC 6455 client
side, text frames and pings only: enough for the shop's pushes.

Every event received is kept with the connection it came on, duplicates included: counting
them is the point."""
import base64
import json
import os
import socket
import struct
import threading
import time
from urllib.parse import quote

RECONNECT_DELAY = 0.2


class Notifications(threading.Thread):
    def __init__(self, port, token, label=""):
        super().__init__(daemon=True, name=f"ws-{label}")
        self.port = port
        self.token = token
        self.events = []            # (connection number, event dict), in arrival order
        self.opened = 0             # connections opened (101)
        self.refused = {}           # reconnect attempts that failed, by reason
        self.last_event_id = None
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._connected = threading.Event()

    # --- use ---------------------------------------------------------------------------------

    def wait_open(self, timeout=10):
        if not self._connected.wait(timeout):
            raise RuntimeError(f"WebSocket did not open in {timeout}s: {self.refused}")

    def received(self):
        with self._lock:
            return [e for _, e in self.events]

    def close(self):
        self._halt.set()
        self.join(5)

    # --- the connection loop -----------------------------------------------------------------

    def run(self):
        while not self._halt.is_set():
            try:
                sock = self._connect()
            except (OSError, ValueError) as e:
                reason = str(e).split(":")[0][:60] or type(e).__name__
                self.refused[reason] = self.refused.get(reason, 0) + 1
                self._halt.wait(RECONNECT_DELAY)
                continue
            self.opened += 1
            self._connected.set()
            try:
                self._read(sock, self.opened)
            except (OSError, ValueError):
                pass
            finally:
                sock.close()
            self._halt.wait(RECONNECT_DELAY)

    def _connect(self):
        path = f"/ws/notifications?access_token={quote(self.token)}"
        if self.last_event_id:
            path += f"&last_event_id={quote(self.last_event_id)}"
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            if not data:
                sock.close()
                raise ValueError("closed before the handshake answer")
            head += data
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status_line + " ":
            sock.close()
            raise ValueError(f"handshake: {status_line}")
        self._buf = head.split(b"\r\n\r\n", 1)[1]
        sock.settimeout(0.5)
        return sock

    def _recv_exact(self, sock, n):
        while len(self._buf) < n:
            if self._halt.is_set():
                raise ValueError("stopped")
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise ValueError("closed")
            self._buf += data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read(self, sock, conn_no):
        while not self._halt.is_set():
            b0, b1 = self._recv_exact(sock, 2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._recv_exact(sock, 2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._recv_exact(sock, 8))[0]
            payload = self._recv_exact(sock, length)   # the server does not mask
            if opcode == 0x1:
                event = json.loads(payload)
                with self._lock:
                    self.events.append((conn_no, event))
                    self.last_event_id = event.get("event_id") or self.last_event_id
            elif opcode == 0x9:
                self._send(sock, 0xA, payload)
            elif opcode == 0x8:
                return

    @staticmethod
    def _send(sock, opcode, payload):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def wait_all(clients, condition, timeout):
    """Polls until condition(clients) is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition(clients):
            return True
        time.sleep(0.1)
    return condition(clients)
