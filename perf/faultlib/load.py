"""Bounded keep-alive load from Python threads, every request recorded.

    load = Load([port], lambda i: Request("GET", "/slow?ms=100"), threads=8,
                max_requests=2000, max_seconds=5, prefix="kill")
    load.start(); ...; load.join()
    load.records  -> [Record], one per request, with its X-Request-Id (prefix-N)

Each request carries its own X-Request-Id, which the balancer keeps and writes to its access
log, so a case can tell which backend a request went to and when.

`failover=True` models a client that knows several balancers (DNS with several addresses):
a request that got no byte of an answer because its connection was refused, reset or closed
is sent again (with a new id) on a fresh connection, to the next port when the connect was
refused. The earlier attempts' ids are kept in `Record.unanswered`, so a case can check in
the access log that the balancer never read them (a request it read must be answered)."""
import http.client
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field

NO_ANSWER = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
             http.client.RemoteDisconnected)
MAX_FAILOVERS = 5


@dataclass
class Request:
    method: str
    path: str
    body: bytes = None
    headers: dict = field(default_factory=dict)
    kind: str = ""          # a label for reports: "GET /slow"


@dataclass
class Record:
    rid: str
    kind: str
    start: float            # time.monotonic() before the request was written
    start_wall: float       # time.time() at the same moment
    end: float = 0.0
    status: int = None      # None: no complete answer
    error: str = None       # why there was no complete answer
    backend: str = None     # the X-Backend answer header (test backends set it)
    body: bytes = b""
    headers: dict = None    # the answer's headers (lower-case names), when kept
    unanswered: list = field(default_factory=list)   # ids of attempts that got no answer

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def latency(self):
        return self.end - self.start

    def outcome(self):
        return str(self.status) if self.status is not None else (self.error or "?")


def percentile(values, p):
    """The p-th percentile (0..100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class Load:
    def __init__(self, ports, make, *, threads, max_requests, max_seconds, prefix, timeout=10.0,
                 failover=False, keep_body=False, pause=0.0):
        self.ports = list(ports)
        self.make = make                  # i -> Request
        self.threads = threads
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.prefix = prefix
        self.timeout = timeout
        self.failover = failover
        self.keep_body = keep_body
        self.pause = pause                # seconds each thread waits between two requests
        self.records = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._stop = threading.Event()
        self._workers = []
        self._deadline = 0.0

    # --- control ---------------------------------------------------------------------------

    def start(self):
        self._deadline = time.monotonic() + self.max_seconds
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def stop(self):
        self._stop.set()

    def join(self, timeout=None):
        """Waits for every thread (bounded: max_seconds plus one request timeout by default)."""
        limit = time.monotonic() + (timeout if timeout is not None
                                    else self.max_seconds + self.timeout + 5)
        for w in self._workers:
            w.join(max(0.0, limit - time.monotonic()))
        self._stop.set()

    def running(self):
        return any(w.is_alive() for w in self._workers)

    def snapshot(self):
        with self._lock:
            return list(self.records)

    # --- summaries ---------------------------------------------------------------------------

    def sent(self):
        """Requests written, retried attempts included."""
        return sum(1 + len(r.unanswered) for r in self.records)

    def failures(self):
        return [r for r in self.records if not r.ok]

    def outcomes(self, records=None):
        """{"200": n, "502": n, "RemoteDisconnected": n, ...}"""
        counts = {}
        for r in self.records if records is None else records:
            counts[r.outcome()] = counts.get(r.outcome(), 0) + 1
        return dict(sorted(counts.items()))

    # --- the client ------------------------------------------------------------------------

    def _connection(self, port_index):
        return http.client.HTTPConnection("127.0.0.1", self.ports[port_index],
                                          timeout=self.timeout)

    def _run(self, thread_no):
        port_index = 0
        conn = self._connection(port_index)
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                i = next(self._counter)
                if i >= self.max_requests:
                    return
                req = self.make(i)
                rec = Record(f"{self.prefix}-{i}", req.kind or f"{req.method} {req.path}",
                             time.monotonic(), time.time())
                attempt = 0
                while True:
                    rid = rec.rid if attempt == 0 else f"{rec.rid}.{attempt}"
                    try:
                        self._exchange(conn, req, rid, rec)
                        break
                    except NO_ANSWER as e:
                        conn.close()
                        if self.failover and attempt < MAX_FAILOVERS:
                            rec.unanswered.append(rid)
                            attempt += 1
                            if isinstance(e, ConnectionRefusedError):
                                port_index = (port_index + 1) % len(self.ports)
                            conn = self._connection(port_index)
                            continue
                        rec.error = type(e).__name__
                        conn = self._connection(port_index)
                        break
                    except (socket.timeout, TimeoutError):
                        rec.error = "timeout"
                        conn.close()
                        conn = self._connection(port_index)
                        break
                    except (OSError, http.client.HTTPException) as e:
                        rec.error = type(e).__name__
                        conn.close()
                        conn = self._connection(port_index)
                        break
                rec.end = time.monotonic()
                with self._lock:
                    self.records.append(rec)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            conn.close()

    def _exchange(self, conn, req, rid, rec):
        headers = dict(req.headers)
        headers["X-Request-Id"] = rid
        conn.request(req.method, req.path, body=req.body, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        rec.status = resp.status
        rec.backend = resp.getheader("X-Backend")
        if self.keep_body:
            rec.body = body
            rec.headers = {k.lower(): v for k, v in resp.getheaders()}
