"""The memory test: each target started fresh with the plain config, N idle keep-alive client
connections opened from an epoll client in this process (each made one GET / and read its
response), and the growth of the target's resident memory."""
import errno
import re
import selectors
import socket
import time

from . import log, scenarios
from .measure import rss_kb
from .peers import start
from .process import tail
from .scenario import Run


def measure_memory(bench, target, workers, nconns):
    row = {"target": target, "workers": workers, "conns": nconns}
    proc, err = start(bench, scenarios.get("plain"), Run(target, target), workers, nconns, f"mem-w{workers}")
    if err:
        row["error"] = err
        log(f"  {target:9s} ERROR: {err}")
        return row
    the = proc if proc else bench.origin.proc
    socks = []
    try:
        time.sleep(0.5)
        before = sum(rss_kb(p) for p in the.pids())
        t0 = time.time()
        socks, failures = open_idle_connections(bench.ports[target], nconns, bench.args.mem_timeout)
        t_open = time.time() - t0
        time.sleep(1.0)
        after = sum(rss_kb(p) for p in the.pids())
        still = count_open(socks)
        row.update({"rss_before_kb": before, "rss_after_kb": after, "opened": len(socks),
                    "failures": failures, "still_open": still, "open_s": t_open})
        if len(socks):
            row["kb_per_conn"] = (after - before) / len(socks)
        if proc is not None and proc.exited():
            row["error"] = f"{proc.exit_desc()} while holding connections"
        log(f"  {target:9s} RSS {before/1024:7.1f} -> {after/1024:7.1f} MB with {len(socks)} idle "
            f"connections ({still} still open, {sum(failures.values())} failed {dict(failures) or ''})")
    finally:
        for s in socks:
            s.close()
        if proc is not None:
            time.sleep(0.3)
            if proc.exited() and "error" not in row:
                row["error"] = (f"{proc.exit_desc()} when the idle clients closed their connections | "
                                f"log: {tail(proc.logfile, 3)[-400:]}")
                log(f"  {target:9s} ERROR: {row['error']}")
            proc.stop()
    return row


def open_idle_connections(port, n, timeout, parallel=256):
    """Open n connections, send one GET / on each, read the whole response, keep
    the socket open and idle.  Returns (sockets, failure counts)."""
    sel = selectors.EpollSelector()
    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: perf-idle\r\n\r\n"
    done, failures = [], {}
    started = inflight = 0
    deadline = time.time() + timeout

    def fail(sock, why):
        nonlocal inflight
        failures[why] = failures.get(why, 0) + 1
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        inflight -= 1

    while len(done) + sum(failures.values()) < n and time.time() < deadline:
        while inflight < parallel and started < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", port))
            started += 1
            inflight += 1
            if rc not in (0, errno.EINPROGRESS):
                fail(s, f"connect:{errno.errorcode.get(rc, rc)}")
                continue
            sel.register(s, selectors.EVENT_WRITE, {"phase": "connect", "buf": b""})
        for key, mask in sel.select(0.2):
            s, st = key.fileobj, key.data
            if st["phase"] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, f"connect:{errno.errorcode.get(err, err)}")
                    continue
                try:
                    s.send(req)
                except OSError as e:
                    fail(s, f"send:{errno.errorcode.get(e.errno, e.errno)}")
                    continue
                st["phase"] = "read"
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                fail(s, f"recv:{errno.errorcode.get(e.errno, e.errno)}")
                continue
            if not data:
                fail(s, "closed before response")
                continue
            st["buf"] += data
            buf = st["buf"]
            h = buf.find(b"\r\n\r\n")
            if h < 0:
                continue
            head = buf[:h].decode("latin-1").lower()
            if not head.startswith("http/1.1 200"):
                fail(s, "status " + head.split("\r\n")[0][9:12])
                continue
            m = re.search(r"\r\ncontent-length:\s*(\d+)", head)
            body = buf[h + 4:]
            if m:
                complete = len(body) >= int(m.group(1))
            elif "transfer-encoding: chunked" in head:
                complete = body.endswith(b"0\r\n\r\n")
            else:
                fail(s, "no length")
                continue
            if complete:
                sel.unregister(s)
                inflight -= 1
                done.append(s)
    for key in list(sel.get_map().values()):
        fail(key.fileobj, "timeout")
    if started < n:
        failures["not started (timeout)"] = n - started
    sel.close()
    return done, failures


def count_open(socks):
    """Sockets not closed by the peer (no EOF/data/error pending)."""
    ep = selectors.EpollSelector()
    for s in socks:
        ep.register(s, selectors.EVENT_READ)
    closed = len(ep.select(0))
    ep.close()
    return len(socks) - closed
