"""One benchmark run's state (its raw folder, ports, the origin, the scenarios' fixtures) and
one measured point: start the target fresh, warm up, measure under wrk, stop it."""
import datetime
import os
import resource
import time

from . import log, scenarios
from .load import run as run_load
from .measure import CpuWindow, wait_for_idle_machine
from .origin import Origin
from .peers import PEERS, start
from .process import free_port, tail


class Bench:
    def __init__(self, args):
        self.args = args
        self.ts = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.raw = os.path.join(args.raw_dir, self.ts)
        os.makedirs(self.raw, exist_ok=True)
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.ports = {name: args.base_port + p.offset if p.offset is not None else free_port()
                      for name, p in PEERS.items()}
        self.current_workers, self.current_conns = 1, 1   # the point being started
        self.origin = Origin(self.raw, args.base_port, args.proxy_core, self.nofile)
        self.run_seq = 0
        # every fixture a scenario names, set up or not: each gives its report lines and JSON keys
        self.fixtures = {}
        for sc in scenarios.ordered():
            for cls in sc.fixtures:
                self.fixtures.setdefault(cls, cls(self))

    def fixture(self, cls):
        return self.fixtures[cls]

    def setup(self, points):
        """Sets up, once each, the fixtures the points' scenarios need, in scenario order."""
        used = [sc for sc in scenarios.ordered() if any(pt[3] == sc.name for pt in points)]
        for cls, fixture in self.fixtures.items():
            names = [sc.name for sc in used if cls in sc.fixtures]
            if names:
                fixture.setup(names)

    def run_point(self, scenario, run, workers, conns, path, rep):
        """One row: the run's target started for this point, warmed up, measured, stopped."""
        a, sc = self.args, scenario
        self.run_seq += 1
        tag = f"r{rep}-w{workers}-c{conns}-{path.strip('/') or 'small'}" + \
            ("" if sc.name == "plain" else f"-{sc.name}")
        row = {"target": run.name, "workers": workers, "conns": conns, "path": path, "scenario": sc.name,
               "repeat": rep}
        proc, err = start(self, sc, run, workers, conns, tag)
        if err:
            row["error"] = err
            log(f"  {run.name:9s} ERROR: {err}")
            return row
        port = self.ports[run.peer]
        client = dict(port=port, conns=conns, core=a.wrk_core, threads=a.wrk_threads, timeout=a.timeout)
        out = os.path.join(self.raw, f"{tag}-{run.name}")
        try:
            surprises = sc.checks(self, run, port)
            if surprises:
                row["check"] = "; ".join(surprises)
                log(f"  {run.name:9s} CHECK: {row['check']}")
            if a.wait_idle > 0:
                row["waited_idle_s"] = wait_for_idle_machine(a.wait_idle)
            if a.warmup > 0:
                run_load(sc.load(self, run, path, True), seconds=a.warmup, out=out + ".warmup.txt", **client)
                time.sleep(0.2)   # wrk has just closed its connections; let the proxy notice
            if proc is not None and proc.exited():
                row["error"] = (f"{proc.exit_desc()} during (or at the end of) the warm-up run | "
                                f"log: {tail(proc.logfile, 3)[-400:]}")
                log(f"  {run.name:9s} ERROR: {row['error']}")
                return row
            helpers = {k: v for k, v in sc.helper_pids(self).items() if v}
            cpu = CpuWindow(dict(proxy=proc.pids() if proc else [], origin=self.origin.pids(), **helpers))
            acc0 = self.origin.accepts()
            counters = sc.before_run(self)
            cpu.start()
            res, werr = run_load(sc.load(self, run, path, False), seconds=a.duration, out=out + ".wrk.txt", **client)
            cpu.stop()
            acc1 = self.origin.accepts()
            errs = []
            if proc is not None and proc.exited():
                errs.append(f"{proc.exit_desc()} during the measured run | log: {tail(proc.logfile, 3)[-400:]}")
            if werr:
                errs.append(werr)
            if errs:
                row["error"] = " ; ".join(errs)
                log(f"  {run.name:9s} ERROR: {row['error']}")
            if werr:
                return row
            self._figures(row, res, cpu, proc, helpers, conns, acc0, acc1)
            sc.after_run(self, counters, row, max(res["requests"], 1))
            log(f"  {run.name:9s} {row['rps']:>10.0f} req/s  p50 {res['p50_us']/1000:7.2f} ms  "
                f"p99 {res['p99_us']/1000:8.2f} ms  errors {row['errors']}"
                + (f"  proxy {row['proxy_cpu_us_per_req']:.1f} us/req" if proc else ""))
        finally:
            if proc is not None:
                if proc.exited() and not proc.stopped_by_us and "error" not in row:
                    row["error"] = f"{proc.exit_desc()}"
                proc.stop()
        return row

    @staticmethod
    def _figures(row, res, cpu, proc, helpers, conns, acc0, acc1):
        row.update(res)
        n = max(res["requests"], 1)
        dur = res["duration_us"] / 1e6
        row["rps"] = res["requests"] / dur if dur else 0
        row["errors"] = res["connect"] + res["read"] + res["write"] + res["status"] + res["timeout"]
        row["proxy_cpu_us_per_req"] = cpu.seconds("proxy") * 1e6 / n if proc else None
        row["proxy_cpu_s"] = cpu.seconds("proxy") if proc else None
        row["origin_cpu_us_per_req"] = cpu.seconds("origin") * 1e6 / n
        row["origin_cpu_s"] = cpu.seconds("origin")
        for name in helpers:
            row[f"{name}_cpu_us_per_req"] = cpu.seconds(name) * 1e6 / n
        row["wrk_cpu_pct"] = 100 * res["wrk_cpu_s"] / res["wall_s"] if res.get("wrk_cpu_s") is not None else None
        row["bytes_per_resp"] = res["bytes"] / n
        if res.get("wrk_cpu_s") is not None:
            pct, row["other_top"] = cpu.others(res["wrk_utime_s"], res["wall_s"])
            row["other_cpu_pct_raw"] = pct
            row["other_cpu_pct"] = max(0.0, pct)
        if acc0 is not None and acc1 is not None:
            # minus the status query's own connection; direct: wrk's own connections are
            # accepted by the origin, they are not "upstream connections opened by a proxy"
            row["origin_new_conns"] = acc1 - acc0 - 1 - (0 if proc else conns)
