"""accesslog: what the access log costs the balancer. The same config twice, `enabled: false`
(/open) and `enabled: true` (/logged, one JSON line per request to a file of the run's own)."""
from ..probe import RouteChecks
from ..scenario import FeatureScenario, Run
from . import register


@register
class AccessLog(FeatureScenario):
    name = "accesslog"
    description = "balancer only: access logging on against off"
    order = 80
    points = ("1:64:/", "2:64:/", "2:1000:/")
    quick_points = ("1:64:/",)
    template = "balancer-accesslog.yaml.tmpl"
    variants = (Run("open", "balancer", "/open", "open"),
                Run("logged", "balancer", "/logged", "open"))
    title = "Access logs: `/logged` (one JSON line per request to a file) against `/open` (logging off)"
    text = ("The same balancer config twice, `access_log: { path: FILE, enabled: false|true }` the only "
            "difference; each request on `/logged` becomes one JSON line appended to the worker's buffer "
            "and written by the log's own thread in batches (every 100 ms or 64 KiB). `×open` is the ratio "
            "to the run without logging at the same point, run just before it: **req/s ×open is the share "
            "of throughput kept with logging on (the issue's target: more than 0.90)**; the balancer's CPU "
            "includes the writer thread.")

    def values(self, bench, run, base):
        # the same config both times; only `enabled` differs (the file is the run's own)
        return {"ACCESS_LOG_ENABLED": "true" if run.name == "logged" else "false",
                "ACCESS_LOG_PATH": base + ".access.log"}

    def checks(self, bench, run, port):
        c = RouteChecks(port)
        c.expect("/open/", 200)
        c.expect("/logged/", 200)
        return c.surprises
