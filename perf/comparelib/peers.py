"""The targets: the origin itself ("direct"), HAProxy, nginx and the balancer, each configured
from its template in perf/configs, fairly (keep-alive both sides sized to the load, the same
request rewriting; see perf/README.md "Layout and why it is fair"), started fresh per run,
pinned with the origin to the proxy core, and ready once it answers with the origin's body."""
import os
import shutil

from .origin import SMALL_BODY_LEN
from .probe import wait_ready
from .process import Proc, port_free, tail
from .templates import render

HAPROXY_HEADERS = """\
    # same request rewriting the balancer does by contract
    option forwardfor
    http-request set-header X-Forwarded-Proto @@SCHEME@@
    http-request set-header X-Request-Id %[uuid] unless { req.hdr(x-request-id) -m found }"""

NGINX_HEADERS = """\
            # same request rewriting the balancer does by contract
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $perf_request_id;"""

NGINX_TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


class Peer:
    name = ""
    offset = 0          # its port: --base-port + offset (the origin is --base-port); None: a free one
    target = True       # one of --targets (every scenario's rows); False: only scenarios naming it
    template = ""       # its config in perf/configs
    suffix = ""         # of the generated config file

    def values(self, bench, workers, conns, tls):
        """Its template's placeholders for this point (a scenario may add or override)."""
        return {"WORKERS": workers, "LISTEN_ADDR": f"127.0.0.1:{bench.ports[self.name]}",
                "ORIGIN_ADDR": f"127.0.0.1:{bench.origin.port}"}

    def argv(self, bench, conf):
        raise NotImplementedError

    def unavailable(self, bench):
        return None

    def log_tail(self, bench, base):
        return tail(base + ".log", 6)


class Direct(Peer):
    """wrk straight at the origin: no process of its own."""
    name = "direct"


class HAProxy(Peer):
    name, offset, template, suffix = "haproxy", 1, "haproxy.cfg.tmpl", ".cfg"

    def values(self, bench, workers, conns, tls):
        return dict(super().values(bench, workers, conns, tls), MAXCONN=conns + 100, NOFILE=bench.nofile,
                    BIND_TLS="", HEADER_RULES="" if bench.args.bare_peers else
                    HAPROXY_HEADERS.replace("@@SCHEME@@", "https" if tls else "http"))

    def argv(self, bench, conf):
        return ["haproxy", "-db", "-f", conf]


class Nginx(Peer):
    name, offset, template, suffix = "nginx", 2, "nginx-proxy.conf.tmpl", ".conf"

    def values(self, bench, workers, conns, tls):
        for d in NGINX_TEMP_DIRS:
            os.makedirs(os.path.join(bench.raw, "nginx-tmp", d), exist_ok=True)
        return dict(super().values(bench, workers, conns, tls), USER=bench.origin.user, NOFILE=bench.nofile,
                    WORKER_CONNECTIONS=min(bench.nofile - 64, 2 * conns + 1024), WORKDIR=bench.raw,
                    LISTEN_TLS="", TLS_DIRECTIVES="", UPSTREAM_KEEPALIVE=max(conns, 64),
                    HEADER_RULES="" if bench.args.bare_peers else NGINX_HEADERS)

    def argv(self, bench, conf):
        return ["nginx", "-p", bench.raw, "-e", self.error_log(bench), "-c", conf]

    def error_log(self, bench):
        return os.path.join(bench.raw, "nginx-proxy-error.log")

    def log_tail(self, bench, base):
        return super().log_tail(bench, base) + " ⏎ " + tail(self.error_log(bench), 3)


class Balancer(Peer):
    """Run with the defaults a user gets (no pool: key), as the issue asks."""
    name, offset, template, suffix = "balancer", 3, "balancer.yaml.tmpl", ".yaml"

    def values(self, bench, workers, conns, tls):
        return dict(super().values(bench, workers, conns, tls), LISTENER_TLS="")

    def argv(self, bench, conf):
        return [bench.args.balancer_bin, "-c", conf]

    def unavailable(self, bench):
        if not os.access(bench.args.balancer_bin, os.X_OK):
            return f"not built ({bench.args.balancer_bin} missing)"
        return None


class Varnish(Peer):
    """Varnish Cache (Debian's 7.1), only in the cache scenario: a free loopback port, its own
    -n work folder under the run's, in the foreground (-F) so it is stopped by its pid; its
    manager and cache-main child (which drops to the vcache user) are counted together."""
    name, offset, template, suffix, target = "varnish", None, "varnish.vcl.tmpl", ".vcl", False

    def values(self, bench, workers, conns, tls):
        return dict(super().values(bench, workers, conns, tls), ORIGIN_HOST="127.0.0.1",
                    ORIGIN_PORT=bench.origin.port)

    def argv(self, bench, conf):
        # thread_pools: as many as the others' workers (each pool's threads serve one
        # connection at a time; its default 100..5000 threads per pool cover 1,000 clients)
        return ["varnishd", "-F", "-n", os.path.join(bench.raw, "varnish"), "-j", "unix",
                "-a", f"127.0.0.1:{bench.ports[self.name]}", "-f", conf, "-T", "none",
                "-s", "malloc,256m", "-t", "3600", "-p", f"thread_pools={bench.current_workers}"]

    def unavailable(self, bench):
        if not shutil.which("varnishd"):
            return "varnishd not found in PATH (Debian's varnish: scripts/setup installs it)"
        return None


PEERS = {p.name: p for p in (Direct(), HAProxy(), Nginx(), Balancer(), Varnish())}
TARGETS = [name for name, p in PEERS.items() if p.target]


def start(bench, scenario, run, workers, conns, tag):
    """Starts the run's peer with the scenario's config for this point. Returns (Proc, None),
    (None, None) for direct, or (None, error)."""
    peer = PEERS[run.peer]
    if peer.name == "direct":
        return None, None
    err = peer.unavailable(bench) or scenario.unavailable(bench, run)
    if err:
        return None, err
    bench.current_workers, bench.current_conns = workers, conns
    port = bench.ports[peer.name]
    if not port_free(port):
        return None, f"port {port} is busy"
    # file names: <tag>-haproxy, <tag>-balancer-auth, <tag>-haproxy-open
    base = os.path.join(bench.raw, f"{tag}-{run.name}" if run.name.startswith(peer.name)
                        else f"{tag}-{peer.name}-{run.name}")
    cfg = scenario.config(bench, run, base)
    values = dict(peer.values(bench, workers, conns, scenario.tls), **cfg.values)
    conf = render(cfg.template or peer.template, base + peer.suffix, values)
    name = peer.name if run.name == peer.name else f"{peer.name} {scenario.name} {run.name}"
    proc = Proc(name, ["taskset", "-c", bench.args.proxy_core] + peer.argv(bench, conf), base + ".log")
    path, headers = scenario.ready(bench, run)
    err = wait_ready(port, path, SMALL_BODY_LEN, proc, tls=scenario.tls, headers=headers)
    if err:
        extra = peer.log_tail(bench, base).strip(" ⏎")
        proc.stop()
        return None, err + (f" | log: {extra[-600:]}" if extra else "")
    scenario.after_start(bench, run, port)
    return proc, None
