#!/usr/bin/env python3
"""`balancer_access_log_dropped_total`: when the access log's writer falls 8 MiB behind, lines
are dropped and counted, and requests are answered as before (README, Metrics and Access
log). The log is a FIFO that the test holds open but does not read, so the writer thread
blocks in writev(2) once the pipe is full; every request then adds a line to the worker's
pending buffer until it holds 8 MiB, and after that each line is dropped. At the end the
test reads the FIFO: every request is either a line that arrived or one counted as
dropped, and the lines that arrived add up to about 8 MiB."""
import json
import os
import re
import select
import stat
import threading
import time

from harness import free_port, http_request, run, wait_for

PAD = "x" * 16000                 # ~16 KiB lines: 8 MiB is some 500 of them
PRIME_REQUESTS = 8                # 128 KiB: more than a pipe holds
FILLER_REQUESTS = 1200            # answered by the balancer itself (404): fast
PROXIED_REQUESTS = 50             # answered by the backend while lines are dropped


def dropped_total(admin_port):
    text = http_request(admin_port, "GET", "/metrics", timeout=5).body.decode()
    m = re.search(r"^balancer_access_log_dropped_total(?:\{\})? (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else None


class FifoReader:
    """Holds a FIFO's read end open (so the writer can open it) and reads it only when told."""

    def __init__(self, path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = bytearray()
        self.lock = threading.Lock()
        self.thread = None

    def start_draining(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._drain, daemon=True)
            self.thread.start()

    def _drain(self):
        while True:
            select.select([self.fd], [], [], 1.0)
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:  # no writer left: the balancer closed its end
                return
            with self.lock:
                self.data += chunk

    def lines(self):
        with self.lock:
            text = bytes(self.data)
        return text.split(b"\n")[:-1]  # a line counts once its newline arrived


def test(h):
    fifo_path = h.dir / "access.fifo"
    reader = FifoReader(fifo_path)
    h.cleanups.append(reader.start_draining)  # never leave the writer blocked at shutdown
    backend = h.backend("a")
    port, admin_port = free_port(), free_port()
    lb = h.balancer(f"""\
workers: 1
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
access_log: {{ path: {fifo_path} }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{backend.port} }}]
    request_timeout: 10s
routes:
  - match: {{ path_prefix: /app }}
    upstream: app
""", port)
    h.expect(stat.S_ISFIFO(os.stat(fifo_path).st_mode), "the access log is the FIFO")
    sent = 0

    with h.step("nothing is dropped while the writer keeps up"):
        r = lb.get("/app/first")
        h.expect_eq(r.status, 200, "status")
        sent += 1
        h.expect_eq(dropped_total(admin_port), 0, "balancer_access_log_dropped_total at start")

    with h.step("the writer is blocked: lines past 8 MiB are dropped and counted"):
        conn = lb.connection(timeout=30)
        # A few lines first, more than the pipe holds: the writer takes them, fills the pipe
        # and blocks holding only these, so what it holds does not blur the 8 MiB below.
        for i in range(PRIME_REQUESTS):
            h.expect_eq(http_request(port, "GET", f"/prime/{i}?pad={PAD}", conn=conn).status, 404,
                        "priming request answered")
            sent += 1
        time.sleep(1)
        statuses = {}
        for i in range(FILLER_REQUESTS):
            r = http_request(port, "GET", f"/nowhere/{i}?pad={PAD}", conn=conn)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            sent += 1
        conn.close()
        h.expect_eq(statuses, {404: FILLER_REQUESTS}, "every filler request answered (no route)")
        h.expect(wait_for(lambda: (dropped_total(admin_port) or 0) > 0, 10),
                 "balancer_access_log_dropped_total > 0")
        dropped_after_filler = dropped_total(admin_port)
        # ~16 KiB each: 8 MiB holds some 500 of them; the rest are dropped.
        h.expect(FILLER_REQUESTS // 4 <= dropped_after_filler < FILLER_REQUESTS,
                 f"dropped {dropped_after_filler} of {FILLER_REQUESTS} filler lines")
        h.expect_eq(reader.lines(), [], "nothing read from the FIFO yet")

    with h.step("while dropping, proxied requests are answered and each drop is counted"):
        conn = lb.connection(timeout=30)
        codes = []
        for i in range(PROXIED_REQUESTS):
            # A longer line than the fillers': the space the fillers left cannot take it.
            r = http_request(port, "GET", f"/app/{i}?pad={PAD}yyyyyyyyyy", conn=conn)
            codes.append((r.status, r.header("X-Backend")))
            sent += 1
        conn.close()
        h.expect_eq(codes, [(200, "a")] * PROXIED_REQUESTS, "every proxied request answered")
        expected = dropped_after_filler + PROXIED_REQUESTS
        wait_for(lambda: dropped_total(admin_port) == expected, 10)
        h.expect_eq(dropped_total(admin_port), expected,
                    f"dropped total after {PROXIED_REQUESTS} more lines")

    with h.step("once read, the log holds every line that was not counted as dropped"):
        reader.start_draining()
        dropped = dropped_total(admin_port)
        wait_for(lambda: len(reader.lines()) >= sent - dropped, 20)
        lines = reader.lines()
        h.expect_eq(len(lines) + dropped, sent, f"lines read ({len(lines)}) + dropped ({dropped})")
        parsed = [json.loads(line) for line in lines]
        h.expect(all(p.get("status") in (200, 404) for p in parsed), "every line parses, 200/404")
        kept = sum(len(line) + 1 for line in lines)
        print(f"   {sent} requests: {len(lines)} lines ({kept} bytes) written, {dropped} dropped")
        # 8 MiB pending, plus the pipe's 64 KiB and the priming lines the writer holds.
        h.expect(8 * 2**20 - len(PAD) <= kept <= 10 * 2**20,
                 f"the writer fell about 8 MiB behind before dropping: {kept} bytes kept")
        h.expect_eq(dropped_total(admin_port), dropped, "no drop once the writer caught up")

    with h.step("after the writer caught up, lines are written again"):
        r = lb.get("/app/after", headers={"X-Request-Id": "after-catch-up"})
        h.expect_eq(r.status, 200, "status")
        h.expect(wait_for(lambda: any(b'"after-catch-up"' in l for l in reader.lines()), 10),
                 "the line of a request made after the catch-up arrived")
        h.expect_eq(dropped_total(admin_port), dropped, "still no new drop")


if __name__ == "__main__":
    run(test)
