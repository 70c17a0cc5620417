#!/usr/bin/env python3
"""1,000 reloads under load leave the balancer's memory flat: a snapshot, its listener runtimes,
each worker's pools and metrics blocks for it are freed once no session uses it.

Every reload alternates between two configurations whose upstream names and route counts
differ, so each one brings a new pool per worker and new metrics blocks (the most a reload can
leave behind). Keep-alive clients and fresh connections run the whole time, so sessions begin
on, and move between, many snapshots. RSS (VmRSS) after 1,000 reloads must be within
MAX_GROWTH_KIB of RSS after 100; before snapshots were freed it grew by about 36 KiB per reload.

    BALANCER_BIN=build/bin/balancer python3 tests/integration/test_reload_memory.py [RELOADS]
"""
import http.client
import os
import re
import signal
import sys
import threading
import time

from harness import run

# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) before it is
# reused, so RSS would grow with what was freed; without it RSS measures what is held.
os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                    "quarantine_size_mb=0"]))

RELOADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
WARMUP = 100                 # RSS is compared from here on: allocator arenas are warm by then
# 1,000 reloads leaked 32 MiB before snapshots were freed; now RSS grows by about 0.1 MiB
# (5 MiB under ASan, whose allocator warms up over the first thousand reloads: 5.4 MiB after
# 3,000).
MAX_GROWTH_KIB = 8 * 1024
RELOAD_TIMEOUT = 10.0        # seconds for one reload to be logged


def config(backend_port, generation):
    """Even generations: one route to `app0`; odd ones: three routes to `app1`."""
    name = f"app{generation % 2}"
    routes = f"  - match: {{ path_prefix: / }}\n    upstream: {name}\n"
    if generation % 2:
        routes = (f"  - match: {{ path_prefix: /one }}\n    upstream: {name}\n"
                  f"  - match: {{ path_prefix: /two }}\n    upstream: {name}\n") + routes
    return f"""\
workers: 2
shutdown_timeout: 2s
timeouts: {{ client_header: 10s, client_idle: 60s }}
listeners:
  - {{ name: public, address: 127.0.0.1:0 }}
upstreams:
  {name}:
    backends:
      - {{ address: 127.0.0.1:{backend_port}, weight: 1 }}
    connect_timeout: 500ms
    request_timeout: 5s
routes:
{routes}"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.MULTILINE).group(1))


class Load:
    """Keep-alive clients (a request each in turn) and a fresh connection every few requests,
    until stop(); bounded by the test's deadline as well."""

    def __init__(self, port, clients=3):
        self.port = port
        self.ok = 0
        self.errors = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                         for i in range(clients)]
        for t in self._threads:
            t.start()

    def _loop(self, index):
        conn = None
        n = 0
        deadline = time.monotonic() + 90
        while not self._stop.is_set() and time.monotonic() < deadline:
            n += 1
            try:
                if conn is None or n % 5 == index:  # a new session on the current snapshot
                    if conn is not None:
                        conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/headers")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.errors.append(resp.status)
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                conn = None
            time.sleep(0.002)
        if conn is not None:
            conn.close()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)


class LogCounter:
    """Counts a line pattern in a growing log file, reading only what is new."""

    def __init__(self, path, pattern):
        self._file = open(path, "rb")
        self._regex = re.compile(pattern)
        self._rest = b""
        self.count = 0

    def poll(self):
        data = self._rest + self._file.read()
        lines = data.split(b"\n")
        self._rest = lines.pop()
        self.count += sum(1 for line in lines if self._regex.search(line))
        return self.count

    def close(self):
        self._file.close()


def test(h):
    backend = h.backend("a")
    lb = h.balancer(config(backend.port, 0))
    reloaded = LogCounter(lb.log_path, rb"SIGHUP: configuration reloaded")
    h.cleanups.append(reloaded.close)
    load = Load(lb.port)
    h.cleanups.append(load.stop)
    # One idle keep-alive session that stays on the first snapshot until the end: freeing
    # must wait for it, and it must still be served after 1,000 reloads.
    pinned = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    pinned.request("GET", "/headers")
    pinned.getresponse().read()
    h.cleanups.append(pinned.close)

    rss = {}
    with h.step(f"{RELOADS} reloads under load"):
        start = time.monotonic()
        for generation in range(1, RELOADS + 1):
            lb.config_path.write_text(config(backend.port, generation))
            os.kill(lb.pid, signal.SIGHUP)
            deadline = time.monotonic() + RELOAD_TIMEOUT
            while reloaded.poll() < generation:
                if time.monotonic() > deadline or not lb.alive():
                    raise RuntimeError(f"reload {generation} not logged within "
                                       f"{RELOAD_TIMEOUT}s")
                time.sleep(0.001)
            if generation in (WARMUP, RELOADS):
                time.sleep(0.3)  # the workers take the snapshot within a loop turn
                rss[generation] = rss_kib(lb.pid)
                print(f"   RSS after {generation} reloads: {rss[generation]} KiB "
                      f"({time.monotonic() - start:.1f}s)", flush=True)
        load.stop()
        print(f"   {load.ok} requests answered during the reloads", flush=True)
        h.expect(load.ok > 0, "the load got answers")
        h.expect(not load.errors, f"requests failed during reloads: {load.errors[:5]}")

    with h.step("a session on the first snapshot is still served"):
        pinned.request("GET", "/headers")
        resp = pinned.getresponse()
        resp.read()
        h.expect_eq(resp.status, 200, "status")

    with h.step(f"RSS after {RELOADS} reloads is within {MAX_GROWTH_KIB} KiB of after {WARMUP}"):
        if WARMUP in rss and RELOADS in rss:
            growth = rss[RELOADS] - rss[WARMUP]
            print(f"   growth: {growth} KiB over {RELOADS - WARMUP} reloads", flush=True)
            h.expect(growth <= MAX_GROWTH_KIB,
                     f"RSS grew by {growth} KiB ({rss[WARMUP]} -> {rss[RELOADS]} KiB)")


if __name__ == "__main__":
    run(test)
