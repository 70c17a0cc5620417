"""perf/compare's command line: its flags (each scenario may add its own), the points to run,
the loop over points, repeats and targets, and where the report goes."""
import argparse
import json
import os
import re
import shutil
import signal
import sys
import time

from . import PERF_DIR, REPO_DIR, log, scenarios
from .bench import Bench
from .measure import DISTURBED_PCT, wait_for_idle_machine
from .memory import measure_memory
from .origin import PATH_SIZES
from .peers import TARGETS
from .process import Interrupted, cleanup_all, on_signal, port_free, raise_nofile
from .report import point_name, report, write_json
from .versions import balancer_build_warnings, balancer_version


def build_parser():
    all_sc = scenarios.names()
    default_sc, quick_sc = scenarios.default_names(), scenarios.default_names(quick=True)
    off = [s for s in all_sc if s not in default_sc]
    off_quick = [s for s in default_sc if s not in quick_sc]
    ap = argparse.ArgumentParser(
        description="Compare the balancer with HAProxy and nginx (and the origin directly) under wrk.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="points are WORKERS:CONNS:PATH[:SCENARIO], PATH is / (small body) or /64k,\n"
               f"SCENARIO one of {', '.join(all_sc)} (default plain).\n"
               + "".join(f"  {s.name}: {s.description}\n" for s in scenarios.ordered())
               + f"default points: {','.join(scenarios.default_points())}\n"
               f"--quick points: {','.join(scenarios.default_points(quick=True))}\n"
               f"(points of a scenario not named by --scenarios are skipped; {', '.join(off)} "
               f"{'is' if len(off) == 1 else 'are'} off by default,\n"
               f"and with --quick so are {' and '.join(off_quick)})")
    ap.add_argument("--quick", action="store_true",
                    help="~3 minute run: fewer points (one TLS and one handshake point), 3 s runs")
    ap.add_argument("--proxies", "--targets", dest="targets", default=",".join(TARGETS),
                    help="comma list of direct,haproxy,nginx,balancer (default: all)")
    ap.add_argument("--points", help="comma list of WORKERS:CONNS:PATH[:SCENARIO]")
    ap.add_argument("--scenarios",
                    help="comma list of " + ",".join(all_sc) + " (default: " + ",".join(default_sc) +
                         "; with --quick: " + ",".join(quick_sc) + "); only points of these scenarios run")
    seen = set()
    for sc in scenarios.ordered():      # the scenarios' own flags, each once
        for flags, kwargs in sc.arguments:
            if flags[0] not in seen:
                seen.add(flags[0])
                ap.add_argument(*flags, **kwargs)
    ap.add_argument("--duration", type=int, help="measured seconds per run (default 5, quick 2)")
    ap.add_argument("--warmup", type=int, help="warm-up seconds per run, same load (default 1)")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the whole matrix N times, report medians")
    ap.add_argument("--timeout", type=int, default=5, help="wrk --timeout seconds (default 5)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--wrk-core", default="0")
    ap.add_argument("--proxy-core", default="1", help="core(s) for the proxy under test and the origin")
    ap.add_argument("--no-memory", action="store_true", help="skip the idle-connection memory test")
    ap.add_argument("--memory-only", action="store_true", help="only the memory test")
    ap.add_argument("--mem-conns", type=int, default=10000)
    ap.add_argument("--mem-workers", type=int, default=2)
    ap.add_argument("--mem-timeout", type=int, default=60, help="bound for opening the idle connections")
    ap.add_argument("--wait-idle", type=int, default=0, metavar="SECONDS",
                    help="before each run wait up to SECONDS until other jobs use <15%% of a core")
    ap.add_argument("--retry-disturbed", type=int, default=2, metavar="N",
                    help="run a point again (up to N times) when other jobs used >10%% of a core during it "
                         "(default 2)")
    ap.add_argument("--bare-peers", action="store_true",
                    help="HAProxy/nginx without X-Forwarded-*/X-Request-Id rewriting")
    ap.add_argument("--balancer-bin", default=os.path.join(REPO_DIR, "build", "bin", "balancer"))
    ap.add_argument("--base-port", type=int, default=18080,
                    help="origin port; haproxy, nginx, balancer listen on the next three")
    ap.add_argument("--results-dir", default=os.path.join(PERF_DIR, "results"))
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON (for perf/report)")
    ap.add_argument("--raw-dir", default=os.path.join(PERF_DIR, "results", "raw"))
    return ap


def parse_points(spec):
    """[(workers, conns, path, scenario)] from WORKERS:CONNS:PATH[:SCENARIO],..."""
    pts = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        m = re.fullmatch(r"(\d+):(\d+):(/[^\s:]*)(?::([a-z0-9-]+))?", item)
        if not m:
            raise SystemExit(f"bad point {item!r}: expected WORKERS:CONNS:PATH[:SCENARIO], e.g. 2:1000:/64k "
                             f"or 1:64:/:tls")
        wk, c, p, sc = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4) or "plain"
        if p not in PATH_SIZES:
            raise SystemExit(f"bad path {p!r}: one of {', '.join(PATH_SIZES)}")
        if sc not in scenarios.REGISTRY:
            raise SystemExit(f"bad scenario {sc!r}: one of {', '.join(scenarios.names())}")
        pts.append((wk, c, p, sc))
    return pts


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in args.targets:
        if t not in TARGETS:
            raise SystemExit(f"unknown target {t!r}: one of {', '.join(TARGETS)}")
    if args.scenarios is None:
        args.scenarios = ",".join(scenarios.default_names(quick=args.quick))
    args.scenarios = [x.strip() for x in args.scenarios.split(",") if x.strip()]
    for x in args.scenarios:
        if x not in scenarios.REGISTRY:
            raise SystemExit(f"unknown scenario {x!r}: one of {', '.join(scenarios.names())}")
    if args.duration is None:
        args.duration = 3 if args.quick else 5
    if args.warmup is None:
        args.warmup = 1
    return args


def select_points(args):
    """The points to run: --points or the defaults, of the named scenarios, with rows."""
    points = parse_points(args.points) if args.points else \
        parse_points(",".join(scenarios.default_points(quick=args.quick)))
    if args.memory_only:
        return []
    return [pt for pt in points if pt[3] in args.scenarios and scenarios.get(pt[3]).runs(args)]


def check_tools(args, points):
    used = [scenarios.get(sc) for sc in {pt[3] for pt in points}]
    peers_needed = any(sc.compares_peers for sc in used) or not args.no_memory
    tools = ["wrk", "taskset", "nginx"] + (["haproxy"] if "haproxy" in args.targets and peers_needed else [])
    tools += sorted({t for sc in used for t in sc.tools})
    for tool in tools:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found in PATH")


def freeze_balancer(args, bench):
    """The build tree may be rebuilt while we run: every run uses one frozen copy."""
    if "balancer" not in args.targets:
        return
    if os.access(args.balancer_bin, os.X_OK):
        for w in balancer_build_warnings(args.balancer_bin):
            log(f"WARNING: {args.balancer_bin}: {w}; its numbers will not be representative")
        args.balancer_version = balancer_version(args)
        frozen = os.path.join(bench.raw, "balancer.bin")
        shutil.copy2(args.balancer_bin, frozen)
        args.balancer_bin = frozen
    else:
        log(f"note: {args.balancer_bin} not built; balancer rows will say so "
            f"(build: cmake -S {REPO_DIR} -B {REPO_DIR}/build && cmake --build {REPO_DIR}/build -j2)")


def run_matrix(args, bench, points, results):
    """Every point, repeat and row, in order; a run disturbed by other jobs runs again."""
    def keep(row):
        with open(os.path.join(bench.raw, "runs.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")

    for rep in range(1, args.repeat + 1):
        for (wk, conns, path, sc) in points:
            log(f"[{rep}/{args.repeat}] workers {wk}, {conns} connections, GET {path}"
                + ("" if sc == "plain" else f", {sc}"))
            scenario = scenarios.get(sc)
            for run in scenario.runs(args):
                for attempt in range(args.retry_disturbed + 1):
                    row = bench.run_point(scenario, run, wk, conns, path, rep)
                    disturbed = (row.get("other_cpu_pct") or 0) > DISTURBED_PCT
                    row["attempt"] = attempt + 1
                    if disturbed and attempt < args.retry_disturbed:
                        row["discarded"] = "disturbed by other jobs; run again"
                        results["retried"].append(f"{run.name} {point_name(wk, conns, path, sc)}")
                        keep(row)
                        log(f"  {run.name:9s} disturbed ({row['other_cpu_pct']:.0f}% of a core used by "
                            f"{', '.join(row.get('other_top', [])[:2])}): again")
                        wait_for_idle_machine(60)
                        continue
                    break
                results["rows"].setdefault((wk, conns, path, sc, run.name), []).append(row)
                keep(row)


def main(argv=None):
    args = parse_args(argv)
    points = select_points(args)
    check_tools(args, points)

    # 10,000 connections: wrk, the proxies and the idle client need the fds.
    # Everything started below inherits this limit (the balancer raises its
    # own soft limit to the hard limit anyway).
    need = max([c for _, c, _, _ in points] + [args.mem_conns if not args.no_memory else 0]) * 2 + 256
    hard = raise_nofile(need)
    if hard < need:
        log(f"note: RLIMIT_NOFILE hard limit is {hard}, less than 2 x connections ({need}): fine as long "
            f"as a proxy does not hold one upstream connection per client connection")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started_at = time.time()
    bench = Bench(args)
    for t, port in bench.ports.items():
        if (t in args.targets or t == "direct") and not port_free(port):
            raise SystemExit(f"port {port} ({t}) is in use; pick another --base-port")
    freeze_balancer(args, bench)
    n_runs = sum(len(scenarios.get(pt[3]).runs(args)) for pt in points) * args.repeat
    log(f"perf/compare: {len(points)} points x their targets x {args.repeat} -> {n_runs} runs of "
        f"{args.warmup}+{args.duration}s; raw output in {bench.raw}")
    results = {"points": points, "rows": {}, "retried": []}
    mem_rows = []
    try:
        try:
            bench.origin.start()
        except RuntimeError as e:
            raise SystemExit(f"cannot start the origin: {e}")
        bench.setup(points)
        run_matrix(args, bench, points, results)
        if not args.no_memory:
            log(f"memory: {args.mem_conns} idle keep-alive connections, {args.mem_workers} worker(s)")
            for t in args.targets:
                r = measure_memory(bench, t, args.mem_workers, args.mem_conns)
                mem_rows.append(r)
                with open(os.path.join(bench.raw, "memory.jsonl"), "a") as f:
                    f.write(json.dumps(r) + "\n")
    except Interrupted as e:
        done = {k[:4] for k in results["rows"]}
        left = [point_name(*pt) for pt in points if pt not in done]
        results["points"] = [pt for pt in points if pt in done]
        results["interrupted"] = f"{e}; not run: {', '.join(left) or 'the memory test'}"
    finally:
        cleanup_all()

    md = report(bench, args, results, mem_rows, started_at)
    os.makedirs(args.results_dir, exist_ok=True)
    out = os.path.join(args.results_dir, f"compare-{bench.ts}.md")
    with open(out, "w") as f:
        f.write(md)
    if args.json:
        write_json(args.json, bench, args, results, mem_rows, out)
    print(md)
    log(f"written: {out}")
    if results.get("interrupted"):
        sys.exit(130)
