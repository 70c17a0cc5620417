"""Many sockets from one thread with epoll: idle keep-alive clients, and slowloris."""
import errno
import selectors
import socket
import time

IDLE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: faults-idle\r\n\r\n"


def open_idle(port, n, timeout, parallel=256):
    """Opens n connections, sends one GET / on each and reads its whole answer (test-origin's
    12-byte body), keeping the socket open and idle. Returns (sockets, {failure: count})."""
    sel = selectors.EpollSelector()
    done, failures = [], {}
    started = pending = 0
    deadline = time.monotonic() + timeout

    def fail(sock, why):
        nonlocal pending
        failures[why] = failures.get(why, 0) + 1
        sel.unregister(sock)
        sock.close()
        pending -= 1

    while len(done) + sum(failures.values()) < n and time.monotonic() < deadline:
        while pending < parallel and started < n:
            s = socket.socket()
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", port))
            started += 1
            pending += 1
            sel.register(s, selectors.EVENT_WRITE, [b""])
            if rc not in (0, errno.EINPROGRESS):
                fail(s, f"connect {errno.errorcode.get(rc, rc)}")
        for key, _ in sel.select(0.2):
            s, state = key.fileobj, key.data
            if key.events == selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, f"connect {errno.errorcode.get(err, err)}")
                    continue
                s.send(IDLE_REQUEST)
                sel.modify(s, selectors.EVENT_READ, state)
                continue
            try:
                data = s.recv(65536)
            except OSError as e:
                fail(s, f"recv {errno.errorcode.get(e.errno, e.errno)}")
                continue
            if not data:
                fail(s, "closed before the answer")
                continue
            state[0] += data
            head, sep, body = state[0].partition(b"\r\n\r\n")
            if sep and body.endswith(b"hello world\n"):
                if not head.startswith(b"HTTP/1.1 200"):
                    fail(s, head.split(b"\r\n", 1)[0].decode("latin-1"))
                    continue
                sel.unregister(s)
                pending -= 1
                done.append(s)
    for key in list(sel.get_map().values()):
        fail(key.fileobj, "timed out")
    sel.close()
    return done, failures


def still_open(socks):
    """How many of the sockets the peer has not closed (nothing to read, no EOF)."""
    n = 0
    for s in socks:
        try:
            n += s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


class SlowLoris:
    """`count` connections that send a request head one header line every `step` seconds and
    never finish it; each one the balancer closes is opened again while the attack lasts.
    `closed` lists (opened at, status answered or None, seconds it stayed open)."""

    def __init__(self, port, count, step=0.5):
        self.port = port
        self.count = count
        self.step = step
        self.opened = 0
        self.closed = []
        self._sel = selectors.EpollSelector()

    def _open(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        s.setblocking(False)
        self.opened += 1
        now = time.monotonic()
        # [opened at, next line due, lines sent, bytes received]
        self._sel.register(s, selectors.EVENT_READ, [now, now, 0, b""])

    def run(self, seconds):
        end = time.monotonic() + seconds
        for _ in range(self.count):
            self._open()
        while time.monotonic() < end:
            for key, _ in self._sel.select(0.05):
                s, st = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                st[3] += data
                if not data:
                    self._closed(s, st)
            now = time.monotonic()
            for key in list(self._sel.get_map().values()):
                s, st = key.fileobj, key.data
                if st[1] > now:
                    continue
                line = (b"GET /slowloris HTTP/1.1\r\nHost: x\r\n" if st[2] == 0
                        else b"X-Slow-%d: v\r\n" % st[2])
                try:
                    s.send(line)
                except BlockingIOError:
                    continue
                except OSError:
                    self._closed(s, st)
                    continue
                st[1] = now + self.step
                st[2] += 1

    def _closed(self, s, st):
        status = None
        if st[3].startswith(b"HTTP/1.1 "):
            status = int(st[3][9:12])
        self.closed.append((st[0], status, time.monotonic() - st[0]))
        self._sel.unregister(s)
        s.close()
        self._open()

    def close(self):
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()
        self._sel.close()
