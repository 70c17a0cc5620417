"""The origin every target forwards to: one nginx worker on the proxy core, started once per
run. `/` answers a 27-byte body, `/64k` is a static 64 KiB file (sendfile), `/json` a 16 KiB
JSON document (the compress scenario's); its stub_status counts the connections it accepted."""
import os
import re
import http.client
import time

from . import log
from .probe import http_get, wait_ready
from .process import Proc, tail
from .templates import render

SMALL_BODY = "Hello from the perf origin\\n"   # nginx string, \n escaped
SMALL_BODY_TEXT = "Hello from the perf origin\n"
SMALL_BODY_LEN = len(SMALL_BODY_TEXT)
BIG_SIZE = 64 * 1024
JSON_SIZE = 16 * 1024
PATH_SIZES = {"/": SMALL_BODY_LEN, "/64k": BIG_SIZE, "/json": JSON_SIZE}


def json_document(size=JSON_SIZE):
    """A product list as an API sends it: repeated keys, varying values; `size` bytes."""
    items, n = [], 0
    while sum(len(i) for i in items) < size:
        items.append(f'{{"id":{n},"name":"product {n * 7919 % 1000}","price":{n * 31 % 10000},'
                     f'"stock":{n * 17 % 50},"tags":["t{n % 7}","t{n % 11}"]}},')
        n += 1
    return ("[" + "".join(items))[:size - 1].encode() + b"]"


class Origin:
    def __init__(self, raw, port, core, nofile):
        self.raw, self.port, self.core, self.nofile = raw, port, core, nofile
        self.user = "user root;" if os.geteuid() == 0 else ""
        self.proc = None

    def start(self):
        """Raises RuntimeError when it does not answer /64k with the file."""
        www = os.path.join(self.raw, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "64k"), "wb") as f:
            f.write(os.urandom(BIG_SIZE))
        with open(os.path.join(www, "json"), "wb") as f:
            f.write(json_document())
        # the static scenario's `/`: the same 27 bytes, from a file
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write(SMALL_BODY_TEXT)
        # a month old: a cache's heuristic freshness from Last-Modified (10% of its age)
        # outlasts any run, as the configured 1 h does for responses without one
        month_ago = time.time() - 30 * 86400
        for name in os.listdir(www):
            os.utime(os.path.join(www, name), (month_ago, month_ago))
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.raw, "origin-tmp", d), exist_ok=True)
        conf = render("origin-nginx.conf.tmpl", os.path.join(self.raw, "origin-nginx.conf"), {
            "USER": self.user, "NOFILE": self.nofile, "WORKDIR": self.raw,
            "WORKER_CONNECTIONS": self.nofile - 64,
            "ORIGIN_ADDR": f"127.0.0.1:{self.port}", "SMALL_BODY": SMALL_BODY})
        self.proc = Proc("origin", ["taskset", "-c", self.core, "nginx",
                                    "-p", self.raw, "-e", os.path.join(self.raw, "origin-error.log"),
                                    "-c", conf],
                         os.path.join(self.raw, "origin.out"))
        err = wait_ready(self.port, "/64k", BIG_SIZE, self.proc)
        if err:
            raise RuntimeError(f"origin nginx: {err} | {tail(os.path.join(self.raw, 'origin-error.log'), 5)}")
        log(f"origin: nginx pid {self.proc.pid} on 127.0.0.1:{self.port} (core {self.core})")

    def pids(self):
        return self.proc.pids()

    def accepts(self):
        """Connections accepted so far (stub_status), None when it cannot be asked."""
        try:
            status, body = http_get(self.port, "/__origin_status")
            m = re.search(rb"\n\s*(\d+)\s+(\d+)\s+(\d+)", body)
            return int(m.group(1)) if m else None
        except (OSError, http.client.HTTPException):
            return None
