"""compress: what gzip costs the balancer, next to nginx's gzip filter at the same level. One
config per peer with two routes to the origin's 16 KiB JSON document: /open (sent as it is)
and /gzip (gzip, level 5 by default); wrk asks for gzip on both."""
import http.client

from ..probe import RouteChecks
from ..scenario import FeatureScenario, PeerConfig, Run
from . import register

GZIP_LEVEL = 5  # the balancer's default gzip level; nginx's gzip_comp_level is set to it


@register
class Compress(FeatureScenario):
    name = "compress"
    description = "gzip-compressed JSON against the same JSON plain, balancer and nginx"
    order = 85
    points = ("1:64:/json", "2:64:/json")
    quick_points = ("1:64:/json",)
    arguments = ((("--gzip-level",), dict(
        type=int, default=GZIP_LEVEL, metavar="N",
        help=f"the compress scenario's gzip level, for both peers (default {GZIP_LEVEL})")),)
    versus = (("gzip", "nginx-gzip"), ("open", "nginx-open"))
    template = "balancer-compress.yaml.tmpl"
    variants = (Run("open", "balancer", "/open", "open"),
                Run("gzip", "balancer", "/gzip", "open"),
                # nginx with the same two routes (configs/nginx-compress.conf.tmpl)
                Run("nginx-open", "nginx", "/open", "nginx-open"),
                Run("nginx-gzip", "nginx", "/gzip", "nginx-open"))
    title = "Compression: `/gzip` (the response gzipped) against `/open` (the same response plain)"
    text = ("One config per peer, two routes to the origin's 16 KiB JSON document (`/json`); `/gzip` "
            "compresses it with gzip at the same level on both peers (the balancer's `compress: { encodings: "
            "[gzip], level: { gzip: N } }`, nginx's `gzip_comp_level N` with `gzip_vary`), and wrk sends "
            "`Accept-Encoding: gzip` to every route. `×open` is the ratio to the peer's own `/open` at the "
            "same point: the share of throughput kept while compressing, and the CPU per request it adds "
            "(zlib's deflate, the same library in both); CPU on the nginx rows is nginx's.")

    def values(self, bench, run, base):
        return {"GZIP_LEVEL": bench.args.gzip_level}

    def config(self, bench, run, base):
        values = self.values(bench, run, base)
        if run.peer == "nginx":
            return PeerConfig("nginx-compress.conf.tmpl", values)
        return PeerConfig(self.template, values)

    def checks(self, bench, run, port):
        c = RouteChecks(port)
        gzip = {"Accept-Encoding": "gzip"}
        c.expect("/open/json", 200, gzip)
        c.expect("/gzip/json", 200, gzip)
        for path, expected in (("/open/json", None), ("/gzip/json", "gzip")):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
                conn.request("GET", path, headers=gzip)
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.getheader("Content-Encoding") != expected:
                    c.surprises.append(f"GET {path}: Content-Encoding {r.getheader('Content-Encoding')!r} "
                                       f"(expected {expected!r})")
            except (OSError, http.client.HTTPException) as e:
                c.surprises.append(f"GET {path}: {e}")
        return c.surprises

    def load(self, bench, run, path, warmup):
        spec = super().load(bench, run, path, warmup)
        spec.headers = ("Accept-Encoding: gzip",)
        return spec
