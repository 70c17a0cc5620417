#!/usr/bin/env python3
"""The static routes' open-file cache (balancer/static_files/open_file_cache.h): a file served a
moment ago is answered from the worker's open descriptor without a trip to the thread pool,
yet a file rewritten in place, replaced by a rename or deleted is seen by the very next
request; a new precompressed sibling within the cache's validity time (1 s); the descriptors
it keeps are bounded (512 per worker) and closed by a reload.
Whether the pool was used shows in its threads' context switches (/proc/PID/task/*/status):
each hand-off wakes a pool thread; on the loop they stay asleep."""
import gzip
import http.client
import os
import signal
import time

from harness import run, http_request

BODY = b"body { color: #333 }\n" * 300  # 6.3 KiB


def config():
    return """\
workers: 1
shutdown_timeout: 2s
listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - match: { path_prefix: / }
    static: { root: web }
"""


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def switches(pid):
    """{thread id: voluntary context switches} of the process's threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        out[tid] = int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that just ended
    return out


def test(h):
    web = h.dir / "web"
    (web / "many").mkdir(parents=True)
    (web / "style.css").write_bytes(BODY)
    lb = h.balancer(config())
    pid = lb.proc.pid

    def get(path, headers=None):
        return http_request(lb.port, "GET", path, headers=headers)

    with h.step("a hot file is served on the loop: the thread pool's threads stay asleep"):
        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        for _ in range(3):  # the first lookup goes to the pool, and starts its threads
            conn.request("GET", "/style.css")
            h.expect_eq(conn.getresponse().read(), BODY, "warm-up body")
        before = switches(pid)
        count = 300
        for _ in range(count):
            conn.request("GET", "/style.css")
            resp = conn.getresponse()
            if resp.read() != BODY or resp.status != 200:
                h.expect(False, f"status {resp.status}")
                break
        after = switches(pid)
        conn.close()
        deltas = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
        # The busiest thread is the worker's loop (it sleeps in epoll between requests); the
        # others are the pool's (and main's). Each hand-off would wake one: 3 per request
        # before the cache (lookup, sendfile, close). A lookup again each second remains.
        others = sum(deltas[1:])
        h.expect(others < count // 10, f"{others} context switches of the other threads for "
                                       f"{count} requests (worker: {deltas[0]})")

    with h.step("a file rewritten in place, or replaced by a rename, is seen at once"):
        etag = get("/style.css").header("ETag")
        (web / "style.css").write_bytes(BODY.replace(b"333", b"444"))
        os.utime(web / "style.css", (1_000_000_000, 1_000_000_000))  # same size, other mtime
        r = get("/style.css")
        h.expect_eq(r.body, BODY.replace(b"333", b"444"), "the rewritten bytes")
        h.expect(r.header("ETag") != etag, f"a new ETag ({etag} -> {r.header('ETag')})")
        (web / "style.css.new").write_bytes(b"replaced\n")
        os.rename(web / "style.css.new", web / "style.css")
        r = get("/style.css")
        h.expect_eq(r.body, b"replaced\n", "the renamed file's bytes")
        h.expect_eq(r.header("Content-Length"), "9", "its length")

    with h.step("a deleted file is 404 at once"):
        h.expect_eq(get("/style.css").status, 200, "served")
        os.unlink(web / "style.css")
        h.expect_eq(get("/style.css").status, 404, "deleted")
        (web / "style.css").write_bytes(BODY)
        h.expect_eq(get("/style.css").body, BODY, "back again")

    with h.step("a new precompressed sibling is served within the validity time (1 s)"):
        accept = {"Accept-Encoding": "gzip"}
        h.expect_eq(get("/style.css", accept).header("Content-Encoding"), None, "no sibling yet")
        (web / "style.css.gz").write_bytes(gzip.compress(BODY))
        deadline = time.monotonic() + 3
        r = get("/style.css", accept)
        while r.header("Content-Encoding") is None and time.monotonic() < deadline:
            time.sleep(0.1)
            r = get("/style.css", accept)
        h.expect_eq(r.header("Content-Encoding"), "gzip", "the sibling")
        h.expect_eq(gzip.decompress(r.body), BODY, "its bytes")

    with h.step("the cache holds at most 512 files open; a reload closes them"):
        for i in range(600):
            (web / "many" / f"{i}.txt").write_text(f"file {i}\n")
        base = open_fds(pid)
        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
        for i in range(600):
            conn.request("GET", f"/many/{i}.txt")
            resp = conn.getresponse()
            if resp.read() != f"file {i}\n".encode():
                h.expect(False, f"/many/{i}.txt: {resp.status}")
                break
        conn.close()
        held = open_fds(pid) - base
        h.expect(400 <= held <= 512, f"{held} more descriptors open after 600 files")
        os.kill(pid, signal.SIGHUP)
        lb.wait_log(r"SIGHUP: configuration reloaded")
        deadline = time.monotonic() + 3
        while open_fds(pid) - base > 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        h.expect(open_fds(pid) - base <= 20, f"{open_fds(pid) - base} more after the reload")
        h.expect_eq(get("/many/7.txt").body, b"file 7\n", "served after the reload")


if __name__ == "__main__":
    run(test)
