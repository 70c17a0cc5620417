"""static: a file from disk, the balancer's `static:` route against nginx with `sendfile on`,
both serving the origin's own files (its www/ folder: the 64 KiB file, and index.html with
the 27-byte body for `/`)."""
import os

from ..scenario import PeerConfig, Run, Scenario
from . import register


@register
class Static(Scenario):
    name = "static"
    description = "a file from disk (64 KiB, 27 B): the balancer's static route, nginx sendfile"
    order = 86
    default = False        # runs when named: perf/compare --scenarios cache,compress,static
    points = ("1:64:/64k", "1:1000:/64k", "1:64:/")
    quick_points = ("1:64:/64k",)
    versus = (("balancer", "nginx"),)
    serves_files = True

    def runs(self, args):
        return [Run(t, t) for t in ("nginx", "balancer") if t in args.targets]

    def config(self, bench, run, base):
        www = {"WWW": os.path.join(bench.raw, "www")}
        if run.peer == "nginx":
            return PeerConfig("nginx-static.conf.tmpl", www)
        return PeerConfig("balancer-static.yaml.tmpl", www)
