"""The report: medians over repeats per point and row, written as Markdown (the tables
perf/README.md describes: one for the scenarios compared with HAProxy, one for handshakes,
one per feature scenario, then memory and anomalies) and as JSON for perf/report."""
import json
import os
import statistics
import sys
import time

from . import REPO_DIR, md_cell, scenarios
from .measure import DISTURBED_PCT
from .versions import balancer_version, tool_version

MEDIANS = ("rps", "p50_us", "p99_us", "p999_us", "proxy_cpu_us_per_req", "origin_cpu_us_per_req", "wrk_cpu_pct",
           "other_cpu_pct", "bytes_per_resp", "origin_new_conns", "tls_handshakes", "tls_resumed")


def point_name(wk, conns, path, scenario):
    return f"{wk}w/{conns}c{path}" + ("" if scenario == "plain" else f" {scenario}")


def path_cell(path, scenario):
    """The path column: the path, with the scenario as a marker unless plain."""
    return path if scenario == "plain" else f"{scenario} {path}"


def fmt_ms(us):
    return "—" if us is None else (f"{us/1000:.2f}" if us < 100000 else f"{us/1000:.0f}")


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}"


def fmt_pct(x):
    return "—" if x is None else "%.0f%%" % x


def fmt_errors(a):
    if a.get("errors", 0) == 0:
        return "0"
    parts = [f"{k} {a[k]}" for k in ("connect", "read", "write", "timeout") if a.get(k)]
    if a.get("status"):
        parts.append(f"non-2xx/3xx {a['status']}")
    return f"{a['errors']} ({', '.join(parts)})"


def aggregate(rows):
    """Median over repeats of one (point, row)."""
    ok = [r for r in rows if "rps" in r]
    errs = [r["error"] for r in rows if "error" in r]
    if not ok:
        return {"error": errs[0] if errs else "no result"}
    med = lambda k: statistics.median([r[k] for r in ok if r.get(k) is not None]) \
        if any(r.get(k) is not None for r in ok) else None
    keys = MEDIANS + tuple(k for sc in scenarios.ordered() for k in sc.measured)
    out = {k: med(k) for k in keys}
    for k in ("connect", "read", "write", "timeout", "status", "errors"):
        out[k] = sum(r.get(k, 0) for r in ok)
    out["runs"] = len(ok)
    # the latency curve (stats.lua) of the run with the median req/s
    mid = sorted(ok, key=lambda r: r["rps"])[len(ok) // 2]
    if mid.get("curve"):
        out["curve"] = mid["curve"]
    out["other_top"] = max(ok, key=lambda r: r.get("other_cpu_pct") or 0).get("other_top", [])
    if errs:
        out["error"] = "; ".join(sorted(set(errs)))
    checks = [r["check"] for r in rows if r.get("check")]
    if checks:
        out["check"] = "; ".join(sorted(set(checks)))
    return out


def point_aggregates(results, args, pt):
    """{row name: aggregate} of one point, in run order."""
    wk, conns, path, sc = pt
    return {r.name: aggregate(results["rows"].get((wk, conns, path, sc, r.name), []))
            for r in scenarios.get(sc).runs(args)}


def disturbed_entry(who, a):
    return f"{who} ({a['other_cpu_pct']:.0f}%: {', '.join(a.get('other_top', [])[:2])})"


def report(bench, args, results, mem_rows, started_at):
    lines = []
    w = lines.append
    host = os.uname()
    w(f"# Balancer vs HAProxy vs nginx — {bench.ts}")
    w("")
    w(f"- machine: {host.nodename}, {os.cpu_count()} cores, kernel {host.release}")
    w(f"- versions: {tool_version(['haproxy', '-v'])}; {tool_version(['nginx', '-v'])}; "
      f"{tool_version(['wrk', '-v'])}; balancer: {getattr(args, 'balancer_version', None) or balancer_version(args)}")
    w(f"- wrk on core {args.wrk_core} ({args.wrk_threads} thread(s)), proxy + origin (nginx, 1 worker) on core "
      f"{args.proxy_core}; {args.duration}s measured after {args.warmup}s warm-up per run; "
      f"wrk --timeout {args.timeout}s; repeats: {args.repeat}; RLIMIT_NOFILE {bench.nofile}")
    w(f"- peers: {'bare (no header rewriting)' if args.bare_peers else 'HAProxy and nginx add X-Forwarded-For/-Proto and X-Request-Id like the balancer'}")
    w(f"- command: `{' '.join(['perf/compare'] + sys.argv[1:])}`; raw output: `{os.path.relpath(bench.raw, REPO_DIR)}`")
    for fixture in bench.fixtures.values():
        lines.extend(fixture.header_lines(args, results["points"]))
    if any(scenarios.get(pt[3]).table != "feature" for pt in results["points"]):
        w("")
        w("Latencies in ms. `×HAP` = ratio to HAProxy at the same point (req/s: higher is better; "
          "p99: lower is better). CPU = utime+stime of all the proxy's processes over the run / requests. "
          "`new up conns` = connections the origin accepted during the measured run (proxy→origin churn; "
          "0 means keep-alive reuse held). `wrk CPU` near 100% means the client core was the limit. "
          "`other CPU` = user CPU of anything else on the machine (+ steal) during the run, in % of one core "
          "(above ~10% the row was disturbed).")
        w("")
        w("| workers | conns | path | target | req/s | ×HAP | p50 | p99 | p99 ×HAP | p99.9 | errors | "
          "proxy CPU µs/req | origin CPU µs/req | new up conns | resp bytes | wrk CPU | other CPU |")
        w("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    notes, disturbed = [], []
    if results.get("interrupted"):
        notes.append(f"- {results['interrupted']}")
    for fixture in bench.fixtures.values():
        notes.extend(fixture.notes())
    hs_rows = []
    feature_rows = {sc.name: [] for sc in scenarios.ordered() if sc.table == "feature"}
    for pt in results["points"]:
        wk, conns, path, sc = pt
        table = scenarios.get(sc).table
        aggs = point_aggregates(results, args, pt)
        pname = point_name(*pt)
        if table == "feature":
            feature_rows[sc].append((wk, conns, path, aggs))
            for t, a in aggs.items():
                for k in ("error", "check"):
                    if a.get(k):
                        notes.append(f"- balancer {t} route at {pname}: {md_cell(a[k])}")
                if "rps" not in a and not a.get("error"):
                    notes.append(f"- balancer {t} route at {pname}: no result")
                if (a.get("other_cpu_pct") or 0) > DISTURBED_PCT:
                    disturbed.append(disturbed_entry(f"balancer {t} route {pname}", a))
            continue
        if table == "handshake":
            hs_rows.append((wk, conns, path, sc, aggs))
            for t, a in aggs.items():
                if "rps" not in a or a.get("error"):
                    notes.append(f"- {t} at {pname}: {md_cell(a.get('error'))}")
                if (a.get("other_cpu_pct") or 0) > DISTURBED_PCT:
                    disturbed.append(disturbed_entry(f"{t} {pname}", a))
            continue
        main_rows(w, wk, conns, path, sc, aggs, pname, notes, disturbed)
    if hs_rows:
        handshake_table(w, hs_rows, notes)
    for sc, rows in feature_rows.items():
        if rows:
            feature_table(w, scenarios.get(sc), rows, args, notes)
    versus_table(w, results, args)
    if results.get("retried"):
        notes.append(f"- run again because other jobs disturbed them (only the last attempt is reported; "
                     f"all are in runs.jsonl): {', '.join(results['retried'])}")
    if disturbed:
        notes.append(f"- other jobs used more than 10% of a core during {len(disturbed)} run(s), "
                     f"whose numbers are unreliable: {'; '.join(disturbed)}")
    if mem_rows:
        memory_table(w, args, mem_rows, notes)
    if notes:
        w("")
        w("## Failures and anomalies")
        w("")
        lines.extend(notes)
    w("")
    w(f"Total time: {(time.time() - started_at)/60:.1f} min.")
    return "\n".join(lines) + "\n"


def main_rows(w, wk, conns, path, sc, aggs, pname, notes, disturbed):
    """The rows of one point in the table compared with HAProxy."""
    hap = aggs.get("haproxy", {})
    for t, a in aggs.items():
        if "rps" not in a:
            w(f"| {wk} | {conns} | {path_cell(path, sc)} | {t} | FAILED | | | | | | | | | | | | |")
            notes.append(f"- {t} at {pname}: {md_cell(a.get('error'))}")
            continue
        r_rps = a["rps"] / hap["rps"] if hap.get("rps") else None
        r_p99 = a["p99_us"] / hap["p99_us"] if hap.get("p99_us") else None
        pc = a.get("proxy_cpu_us_per_req")
        nc = a.get("origin_new_conns")
        w(f"| {wk} | {conns} | {path_cell(path, sc)} | {t} | {a['rps']:,.0f} | {fmt_ratio(r_rps)} | {fmt_ms(a['p50_us'])} | "
          f"{fmt_ms(a['p99_us'])} | {fmt_ratio(r_p99)} | {fmt_ms(a['p999_us'])} | {fmt_errors(a)} | "
          f"{'—' if pc is None else f'{pc:.1f}'} | {a['origin_cpu_us_per_req']:.1f} | "
          f"{'—' if t == 'direct' or nc is None else f'{nc:.0f}'} | {a['bytes_per_resp']:,.0f} | "
          f"{fmt_pct(a['wrk_cpu_pct'])} | {fmt_pct(a['other_cpu_pct'])} |")
        if a.get("error"):
            notes.append(f"- {t} at {pname}: {md_cell(a['error'])}")
        if (a.get("other_cpu_pct") or 0) > DISTURBED_PCT:
            disturbed.append(disturbed_entry(f"{t} {pname}", a))


def handshake_table(w, hs_rows, notes):
    w("")
    w("## TLS handshakes: one new connection per request")
    w("")
    w("wrk sends `Connection: close`, so every request opens a new TLS connection. `tls-handshake`: a full "
      "handshake each time (wrk's session reuse switched off, see the check above); `tls-resume`: wrk "
      "offers the previous connection's session (ticket / PSK) and the proxy may resume it. "
      "`resumed` = share of the handshakes wrk completed that were resumptions (counted inside wrk "
      "by the shim). handshakes/s = requests/s. `CPU ×HAP` = proxy CPU per handshake relative to HAProxy (lower is "
      "better). With `wrk CPU` near 100% the client was the limit and handshakes/s is the same for "
      "everyone: compare the CPU per handshake.")
    w("")
    w("| workers | conns | scenario | target | handshakes/s | ×HAP | p50 | p99 | p99 ×HAP | errors | "
      "proxy CPU µs/handshake | CPU ×HAP | resumed | origin CPU µs/req | new up conns | wrk CPU | other CPU |")
    w("|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for (wk, conns, path, sc, aggs) in hs_rows:
        hap = aggs.get("haproxy", {})
        pname = point_name(wk, conns, path, sc)
        for t, a in aggs.items():
            if "rps" not in a:
                w(f"| {wk} | {conns} | {path_cell(path, sc)} | {t} | FAILED | | | | | | | | | | | | |")
                continue
            r_rps = a["rps"] / hap["rps"] if hap.get("rps") else None
            r_p99 = a["p99_us"] / hap["p99_us"] if hap.get("p99_us") else None
            pc = a.get("proxy_cpu_us_per_req")
            r_cpu = pc / hap["proxy_cpu_us_per_req"] if pc and hap.get("proxy_cpu_us_per_req") else None
            nc = a.get("origin_new_conns")
            hs, rs = a.get("tls_handshakes"), a.get("tls_resumed")
            resumed = "—" if not hs else f"{100 * rs / hs:.0f}%"
            if sc == "tls-handshake" and rs:
                notes.append(f"- {t} at {pname}: {rs} of {hs} handshakes were resumed, not full")
            w(f"| {wk} | {conns} | {path_cell(path, sc)} | {t} | {a['rps']:,.0f} | {fmt_ratio(r_rps)} | "
              f"{fmt_ms(a['p50_us'])} | {fmt_ms(a['p99_us'])} | {fmt_ratio(r_p99)} | {fmt_errors(a)} | "
              f"{'—' if pc is None else f'{pc:.1f}'} | {fmt_ratio(r_cpu)} | {resumed} | "
              f"{a['origin_cpu_us_per_req']:.1f} | {'—' if nc is None else f'{nc:.0f}'} | "
              f"{fmt_pct(a['wrk_cpu_pct'])} | {fmt_pct(a['other_cpu_pct'])} |")


# A feature table's peer rows are named by their peer (the balancer's rows are not).
PEER_LABELS = {"haproxy": "HAProxy ", "nginx": "nginx "}


def feature_table(w, scenario, rows, args, notes):
    """A feature scenario's section: one row per route per point, ratios to its base route."""
    runs = {r.name: r for r in scenario.variants}
    extra = scenario.columns
    w("")
    w(f"## {scenario.title}")
    w("")
    w(scenario.text + " Latencies in ms; CPU = the balancer's utime+stime over the run / requests.")
    w("")
    w("| workers | conns | route | req/s | ×open | p50 | p99 | p99 ×open | p99.9 | errors | balancer CPU µs/req | "
      "CPU ×open | +µs/req |" + "".join(f" {h} |" for h, _ in extra) + " wrk CPU | other CPU |")
    w("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|" + "---:|" * len(extra) + "---:|---:|")
    bad_status = []
    for (wk, conns, path, aggs) in rows:
        for t, a in aggs.items():
            run = runs[t]
            op = aggs.get(run.base, {})   # each proxy against its own /open
            route = run.route + ("" if path == "/" else path)
            rcell = PEER_LABELS.get(run.peer, "") + f"`{route}`" + run.label
            if "rps" not in a:
                w(f"| {wk} | {conns} | {rcell} | FAILED |" + " |" * (11 + len(extra)))
                continue
            pc, opc = a.get("proxy_cpu_us_per_req"), op.get("proxy_cpu_us_per_req")
            base = t == run.base
            r_rps = a["rps"] / op["rps"] if op.get("rps") and not base else None
            r_p99 = a["p99_us"] / op["p99_us"] if op.get("p99_us") and not base else None
            r_cpu = pc / opc if pc and opc and not base else None
            d_cpu = "—" if base or pc is None or opc is None else f"{pc - opc:+.1f}"
            cells = [str(wk), str(conns), rcell, f"{a['rps']:,.0f}", fmt_ratio(r_rps), fmt_ms(a["p50_us"]),
                     fmt_ms(a["p99_us"]), fmt_ratio(r_p99), fmt_ms(a["p999_us"]), fmt_errors(a),
                     "—" if pc is None else f"{pc:.1f}", fmt_ratio(r_cpu), d_cpu]
            cells += [cell(a) for _, cell in extra]
            notes.extend(scenario.row_notes(run, route, wk, conns, a))
            cells += [fmt_pct(a["wrk_cpu_pct"]), fmt_pct(a["other_cpu_pct"])]
            w("| " + " | ".join(cells) + " |")
            if a.get("errors"):
                bad_status.append(f"{rcell} at {wk}w/{conns}c: {fmt_errors(a)}")
    w("")
    if bad_status:
        w("**Errors** (for `ratelimit`, a non-2xx/3xx response is a 429 or a 503 unless the log says otherwise): "
          + "; ".join(bad_status) + ".")
        notes.append(f"- {scenario.name}: errors in " + "; ".join(bad_status))
    else:
        w(scenario.all_good)


def versus_table(w, results, args):
    """The rows a scenario sets against a peer's (its `versus`), side by side, each point."""
    pairs = []
    for pt in results["points"]:
        sc = scenarios.get(pt[3])
        if sc.versus:
            aggs = point_aggregates(results, args, pt)
            pairs += [(pt, row, peer, aggs.get(row, {}), aggs.get(peer, {})) for row, peer in sc.versus]
    if not pairs:
        return
    w("")
    w("## Against each peer: the same work, the balancer's row over the peer's")
    w("")
    w("Same origin, same worker count, same point, run one after the other by the same script. "
      "`req/s ×peer` above 1 and `CPU ×peer` below 1 are the balancer's win (CPU = utime+stime of "
      "all the row's processes / requests). On a shared machine absolute figures move from run to "
      "run; the ratios of one run are the figures to read.")
    w("")
    w("| workers | conns | scenario | path | row | peer | req/s | peer req/s | req/s ×peer | CPU µs/req | "
      "peer CPU µs/req | CPU ×peer | p99 | peer p99 | errors |")
    w("|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (wk, conns, path, sc), row, peer, a, p in pairs:
        if "rps" not in a or "rps" not in p:
            rps = lambda x: f"{x['rps']:,.0f}" if "rps" in x else "FAILED"
            w(f"| {wk} | {conns} | {sc} | {path} | {row} | {peer} | {rps(a)} | {rps(p)} |" + " |" * 7)
            continue
        cpu, pcpu = a.get("proxy_cpu_us_per_req"), p.get("proxy_cpu_us_per_req")
        w(f"| {wk} | {conns} | {sc} | {path} | {row} | {peer} | {a['rps']:,.0f} | {p['rps']:,.0f} | "
          f"{fmt_ratio(a['rps'] / p['rps'] if p['rps'] else None)} | "
          f"{'—' if cpu is None else f'{cpu:.1f}'} | {'—' if pcpu is None else f'{pcpu:.1f}'} | "
          f"{fmt_ratio(cpu / pcpu if cpu and pcpu else None)} | {fmt_ms(a['p99_us'])} | "
          f"{fmt_ms(p['p99_us'])} | {fmt_errors(a)} / {fmt_errors(p)} |")


def memory_table(w, args, mem_rows, notes):
    w("")
    w(f"## Memory: {args.mem_conns:,} idle keep-alive client connections, {args.mem_workers} worker(s)")
    w("")
    w("RSS = sum of VmRSS over all the target's processes; each connection made one `GET /` "
      "(response read completely) and was then left idle. `still open` = connections the target "
      "had not closed when RSS was sampled (1 s after the last one was opened). `direct` is the origin nginx itself (1 worker), for reference.")
    w("")
    w("| target | processes RSS before (MB) | after (MB) | growth (MB) | KB / connection | opened | failed | still open |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in mem_rows:
        if "rss_before_kb" not in r:
            w(f"| {r['target']} | FAILED | | | | | | |")
            notes.append(f"- memory, {r['target']}: {md_cell(r.get('error'))}")
            continue
        g = (r["rss_after_kb"] - r["rss_before_kb"]) / 1024
        fails = sum(r["failures"].values())
        w(f"| {r['target']} | {r['rss_before_kb']/1024:.1f} | {r['rss_after_kb']/1024:.1f} | {g:.1f} | "
          f"{r.get('kb_per_conn', 0):.2f} | {r['opened']:,} | {fails:,} | {r['still_open']:,} |")
        if fails:
            notes.append(f"- memory, {r['target']}: failures {r['failures']}")
        if r.get("error"):
            notes.append(f"- memory, {r['target']}: {md_cell(r['error'])}")


def write_json(path, bench, args, results, mem_rows, md_path):
    """The run's figures for perf/report: per point and target the aggregate the
    Markdown table shows (medians over repeats) and the latency curve."""
    points = [{"workers": wk, "conns": conns, "path": path_, "scenario": sc,
               "targets": point_aggregates(results, args, (wk, conns, path_, sc))}
              for (wk, conns, path_, sc) in results["points"]]
    doc = {"ts": bench.ts, "command": " ".join(["perf/compare"] + sys.argv[1:]),
           "balancer": getattr(args, "balancer_version", None) or balancer_version(args),
           "versions": {"haproxy": tool_version(["haproxy", "-v"]), "nginx": tool_version(["nginx", "-v"]),
                        "wrk": tool_version(["wrk", "-v"])},
           "duration_s": args.duration, "warmup_s": args.warmup, "repeat": args.repeat,
           "wrk_core": args.wrk_core, "proxy_core": args.proxy_core, "nofile": bench.nofile,
           "bare_peers": args.bare_peers, "raw": os.path.relpath(bench.raw, REPO_DIR),
           "markdown": os.path.relpath(md_path, REPO_DIR)}
    for fixture in bench.fixtures.values():   # tls, tls_check, tls_version, jwt_*, redis_error
        doc.update(fixture.json())
    doc.update({"retried": results.get("retried", []), "interrupted": results.get("interrupted"),
                "mem_conns": args.mem_conns, "mem_workers": args.mem_workers,
                "points": points, "memory": mem_rows})
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
