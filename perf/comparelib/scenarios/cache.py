"""cache: hits from each proxy's response cache, the balancer's (`cache:` on its route) against
nginx's proxy_cache and Varnish 7.1, 27-byte and 64 KiB objects of the same origin. Each
start is checked: the second GET of each path must be a hit."""
import http.client

from ..scenario import PeerConfig, Run, Scenario
from . import register

PATHS = ("/", "/64k")


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("X-Cache")
    finally:
        conn.close()


@register
class Cache(Scenario):
    name = "cache"
    description = "cached hits (27 B, 64 KiB): the balancer's cache, nginx proxy_cache, Varnish"
    order = 84
    default = False        # runs when named: perf/compare --scenarios cache,compress,static
    points = ("1:64:/", "1:64:/64k", "1:1000:/64k")
    quick_points = ("1:64:/", "1:64:/64k")
    versus = (("balancer", "nginx"), ("balancer", "varnish"))

    def runs(self, args):
        order = [t for t in ("nginx", "balancer") if t in args.targets]
        return [Run(t, t) for t in order[:1]] + [Run("varnish", "varnish")] + \
            [Run(t, t) for t in order[1:]]

    def config(self, bench, run, base):
        if run.peer == "nginx":
            return PeerConfig("nginx-cache.conf.tmpl")
        if run.peer == "balancer":
            return PeerConfig("balancer-cache.yaml.tmpl")
        return PeerConfig()

    def checks(self, bench, run, port):
        surprises = []
        for path in PATHS:
            try:
                get(port, path)
                status, x_cache = get(port, path)
            except (OSError, http.client.HTTPException) as e:
                surprises.append(f"GET {path}: {e}")
                continue
            if status != 200 or (x_cache or "").upper() != "HIT":
                surprises.append(f"second GET {path} -> {status}, X-Cache {x_cache!r} (expected a HIT)")
        return surprises
