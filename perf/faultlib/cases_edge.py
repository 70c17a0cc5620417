"""Hostile and idle clients next to a normal one: slowloris, 10,000 idle connections, the
malformed-request corpus (under ASan when build-asan exists), and the fuzz target (in the short
run without build-fuzz: its corpus replayed, not fuzzed)."""
import contextlib
import os
import random
import re
import subprocess
import time
from pathlib import Path

import harness
from harness import RawConnection, http_request

from . import REPO, corpus
from .cases_backends import describe
from .idle import SlowLoris, open_idle, still_open
from .load import Load, Request, percentile
from .result import CaseResult
from .stack import ASAN_BALANCER, BIN_DIR, Lb, Origin, balancer_config

FUZZ_BIN = REPO / "build-fuzz" / "bin" / "request_fuzz"
# Built in every build (tests/fuzz): the fuzz target's code run once over each corpus input.
REPLAY_BIN = Path(BIN_DIR) / "request_fuzz_replay"
FUZZ_CORPUS = REPO / "tests" / "fuzz" / "corpus"
SANITIZER_REPORT = re.compile(r"ERROR: (?:Address|Leak)Sanitizer|runtime error:|"
                              r"SUMMARY: \w+Sanitizer")


def has_asan(path):
    """Whether the binary at `path` carries AddressSanitizer (its runtime's entry point): a
    build-asan folder left over from a plain build must not be reported as sanitized."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def harness_balancer():
    """The balancer the cases start unless told otherwise (BALANCER_BIN)."""
    return harness.BALANCER_BIN


def shown(path):
    """A binary's path as the results files show it: relative to the repository when inside."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def calm_client(port, seconds, prefix, threads=4):
    """A normal client beside the hostile ones: keep-alive GET / in a few threads, each at
    most 500 a second (the machine is shared)."""
    return Load([port], lambda i: Request("GET", "/", kind="GET /"), threads=threads,
                max_requests=int(seconds * 500 * threads), max_seconds=seconds, prefix=prefix,
                pause=0.002).start()


def p99_ms(load, start, end):
    return 1000 * percentile([x.latency for x in load.records if start <= x.start < end], 99)


def p99_bound(baseline_ms):
    """What 'bounded' means for the normal client's p99 beside an attack: within twice its
    own baseline plus 20 ms of scheduling noise on a shared machine."""
    return 2 * baseline_ms + 20


def slowloris(ctx):
    header_s = ctx.pick(2, 3)
    attackers = ctx.pick(300, 1000)
    attack_s = ctx.pick(6, 15)
    r = CaseResult("slowloris", f"{attackers} slowloris connections (a header line every "
                   f"0.5 s) closed with 408 after client_header {header_s}s; a normal client "
                   "beside them: zero failed, p99 <= 2 x its baseline + 20 ms")
    a = Origin(ctx.h, "a")
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(
        p, ap, log, [a.address], extra_top=f"timeouts: {{ client_header: {header_s}s }}"))
    baseline_s = 2.0
    calm = calm_client(lb.port, baseline_s + attack_s + 0.5, "calm")
    t0 = time.monotonic()
    time.sleep(baseline_s)
    attack = SlowLoris(lb.port, attackers)
    try:
        attack.run(attack_s)
    finally:
        attack.close()
    calm.join()
    base = p99_ms(calm, t0 + 0.3, t0 + baseline_s)
    during = p99_ms(calm, t0 + baseline_s + 0.3, t0 + baseline_s + attack_s)
    code, took, killed = lb.stop()
    r.sent = calm.sent()
    r.failed = len(calm.failures())
    late = [c for c in attack.closed if c[2] > header_s + 1.0]
    r.note(f"{attack.opened} slowloris connections opened, {len(attack.closed)} closed by the "
           f"balancer ({sum(1 for c in attack.closed if c[1] == 408)} with 408) after "
           f"{min((c[2] for c in attack.closed), default=0):.1f}-"
           f"{max((c[2] for c in attack.closed), default=0):.1f}s; normal client p99 "
           f"{base:.1f} ms before, {during:.1f} ms during; outcomes {calm.outcomes()}")
    r.check(code == 0 and not killed, f"balancer exits 0 on SIGTERM ({code})")
    r.check(not calm.failures(), f"the normal client: zero failed ({describe(calm.failures())})")
    r.check(during <= p99_bound(base), f"normal p99 {during:.1f} ms <= {p99_bound(base):.1f}")
    r.check(attack.closed and not late and all(c[1] == 408 for c in attack.closed),
            f"slowloris connections closed with 408 within client_header + 1 s "
            f"({len(late)} later)")
    return r


def idle_10k(ctx):
    n = ctx.pick(2000, 10000)
    hold_s = ctx.pick(3, 6)
    r = CaseResult("idle_10k", f"{n:,} idle keep-alive connections held {hold_s}s: all stay "
                   "open, a normal client beside them: zero failed, p99 <= 2 x its baseline "
                   "+ 20 ms; at most 4 KiB of balancer RSS per idle connection")
    a = Origin(ctx.h, "a")
    lb = Lb(ctx.h, lambda p, ap, log: balancer_config(p, ap, log, [a.address]))
    baseline_s = 2.0
    calm = calm_client(lb.port, baseline_s + 30 + hold_s, "calm")
    t0 = time.monotonic()
    time.sleep(baseline_s)
    before = lb.rss_kb()
    socks, failures = open_idle(lb.port, n, timeout=30)
    try:
        opened_at = time.monotonic()
        time.sleep(1.0)
        after = lb.rss_kb()
        time.sleep(max(0.0, hold_s - 1.0))
        still = still_open(socks)
        calm.stop()
        calm.join()
        held_until = time.monotonic()
    finally:
        for s in socks:
            s.close()
    base = p99_ms(calm, t0 + 0.3, t0 + baseline_s)
    during = p99_ms(calm, opened_at, held_until)
    per_conn = (after - before) / max(1, len(socks))
    code, took, killed = lb.stop()
    r.sent = calm.sent() + len(socks)
    r.failed = len(calm.failures()) + sum(failures.values())
    r.note(f"{len(socks):,} opened in {opened_at - t0 - baseline_s:.1f}s ({failures or 'no'} "
           f"failures), {still:,} still open after {hold_s}s; balancer RSS {before / 1024:.1f} "
           f"-> {after / 1024:.1f} MiB = {per_conn:.2f} KiB per idle connection; normal "
           f"client p99 {base:.1f} ms before, {during:.1f} ms while they were open; "
           f"outcomes {calm.outcomes()}")
    r.check(code == 0 and not killed, f"balancer exits 0 on SIGTERM ({code})")
    r.check(len(socks) == n and still == n, f"all {n} connections opened and still open")
    r.check(not calm.failures(), f"the normal client: zero failed ({describe(calm.failures())})")
    r.check(during <= p99_bound(base), f"normal p99 {during:.1f} ms <= {p99_bound(base):.1f}")
    r.check(per_conn <= 4.0, f"{per_conn:.2f} KiB per idle connection <= 4")
    return r


def _send(conn, data, split):
    """All at once, or in pieces of 1-7 bytes (where an incremental parser goes wrong)."""
    if not split:
        conn.send(data)
        return
    i = 0
    while i < len(data):
        step = random.randint(1, 7)
        conn.send(data[i:i + step])
        i += step
        time.sleep(0.0005)


def _try_entry(port, data, good, split):
    """None when the balancer refused the bad request (a 4xx, or closed without an answer),
    else what it did instead."""
    conn = RawConnection(port, timeout=3)
    try:
        with contextlib.suppress(OSError):
            _send(conn, data, split)
        for _ in range(good):
            try:
                resp = conn.read_response(3)
            except (ConnectionError, TimeoutError, ValueError) as e:
                return f"the good request before it: {type(e).__name__}"
            if resp.status != 200:
                return f"the good request before it: {resp.status}"
        try:
            resp = conn.read_response(3)
        except ConnectionError:
            return None if conn.closed else "no answer"
        except TimeoutError:
            return "neither answered nor closed in 3 s"
        except ValueError as e:
            return f"not HTTP: {e}"
        if 400 <= resp.status < 500 or conn.wait_closed(1):
            return None        # refused, or answered and closed (RFC 9112 6.1: TE in 1.0)
        return f"answered {resp.status}, connection kept open"
    finally:
        conn.close()


def malformed_corpus(ctx):
    asan = os.access(ASAN_BALANCER, os.X_OK) and has_asan(ASAN_BALANCER)
    binary = ASAN_BALANCER if asan else harness_balancer()
    rounds = ctx.pick(1, 4)
    entries = corpus.entries()
    r = CaseResult("malformed_corpus", f"{len(entries)} malformed and smuggling requests "
                   f"x {rounds * 2} (whole and split in 1-7 byte pieces): each answered 4xx or "
                   "closed, nothing smuggled reaches the backend, no crash"
                   + (", no ASan/UBSan/LSan report" if asan else "") + "; a normal client "
                   "beside them: zero failed")
    backend = ctx.h.backend("a")                       # counts the paths it receives
    saved = {k: os.environ.get(k) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")}
    os.environ["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1"
    os.environ["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    try:
        lb = Lb(ctx.h, lambda p, ap, log: balancer_config(
            p, ap, log, [f"127.0.0.1:{backend.port}"], extra_top=corpus.LIMITS),
            binary=ASAN_BALANCER if asan else None)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    calm = calm_client(lb.port, 600, "calm")
    accepted = []
    tried = 0
    try:
        for n in range(rounds * 2):
            for name, data, good in entries:
                tried += 1
                what = _try_entry(lb.port, data, good, split=n % 2 == 1)
                if what:
                    accepted.append(f"{name}{' (split)' if n % 2 else ''}: {what}")
            if not lb.proc.alive():
                break
            still = http_request(lb.port, "GET", "/after-corpus", timeout=5).status
            r.check(still == 200, f"served after round {n + 1}: {still}")
    finally:
        calm.stop()
        calm.join()
    by_path = backend.stats()["by_path"]
    in_head = [name for name, (_, head) in corpus.SHAPES.items() if head]
    smuggled = {k: v for k, v in by_path.items() if "/smuggled" in k
                or any(k.endswith(f" /first-{name}") for name in in_head)}
    code, took, killed = lb.stop()
    reports = SANITIZER_REPORT.findall(lb.proc.log_text())
    r.sent = tried + calm.sent()
    r.failed = len(accepted) + len(calm.failures())
    if asan:
        used = f"balancer {shown(binary)} (ASan+UBSan)"
        if os.path.getmtime(binary) < os.path.getmtime(harness_balancer()):
            used += (", older than " + shown(harness_balancer()) +
                     ": it may not hold the latest changes")
    else:
        used = (f"balancer {shown(binary)}, NO sanitizers ({shown(ASAN_BALANCER)} is not "
                "an ASan build or not built): crashes are caught, memory errors may not be")
    r.note(f"{used}; {tried} corpus requests; normal client outcomes {calm.outcomes()}")
    r.check(not accepted, f"every entry refused ({len(accepted)} not: "
                          f"{'; '.join(sorted(set(accepted))[:6])})")
    r.check(not smuggled, f"nothing smuggled, and no request carrying a smuggling shape in "
                          f"its head, reached the backend ({smuggled})")
    r.check(code == 0 and not killed, f"balancer exits 0 on SIGTERM (exit {code}; a "
                                      f"sanitizer report exits non-zero)")
    if asan:
        r.check(not reports, f"no sanitizer report in the balancer's log ({reports[:3]})")
    r.check(not calm.failures(), f"the normal client: zero failed ({describe(calm.failures())})")
    return r


def fuzz(ctx):
    seconds = ctx.pick(20, 600)
    if not os.access(FUZZ_BIN, os.X_OK):
        return replay_corpus(ctx)
    r = CaseResult("fuzz", f"libFuzzer request_fuzz for {seconds}s (ASan, UBSan, LSan and the "
                   "target's invariants): no crash, leak or report")
    out = subprocess.run([str(REPO / "tests" / "fuzz" / "run.sh"), str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 180,
                         stdin=subprocess.DEVNULL)
    text = out.stdout + out.stderr
    m = re.search(r"executions: (\d+)", text)
    r.sent = int(m.group(1)) if m else 0
    r.failed = 0 if out.returncode == 0 else 1
    summary = next((line for line in text.splitlines() if line.startswith("request_fuzz:")), "")
    r.note(summary or text[-300:])
    r.check(out.returncode == 0, f"tests/fuzz/run.sh exit {out.returncode}: "
                                 f"{text.strip().splitlines()[-1] if text.strip() else ''}")
    return r


def replay_corpus(ctx):
    """Without build-fuzz: the short run replays tests/fuzz/corpus through request_fuzz_replay
    (no fuzzing, and sanitizers only when the replay binary has them); the full run fails, as
    it promises 600 s of fuzzing."""
    sanitized = os.access(REPLAY_BIN, os.X_OK) and has_asan(REPLAY_BIN)
    r = CaseResult("fuzz", f"NOT FUZZED ({shown(FUZZ_BIN)} is not built): tests/fuzz/corpus "
                   f"replayed once through {shown(REPLAY_BIN)} "
                   f"({'ASan+UBSan' if sanitized else 'no sanitizers'}): every input passes the "
                   "target's invariants")
    r.note(f"replayed the corpus, did not fuzz: {shown(FUZZ_BIN)} is not built "
           "(see tests/fuzz/README.md)")
    if not r.check(ctx.short, f"{shown(FUZZ_BIN)} built (only the short run may replay "
                              "instead of fuzzing)"):
        return r
    if not r.check(os.access(REPLAY_BIN, os.X_OK), f"{shown(REPLAY_BIN)} built"):
        return r
    out = subprocess.run([str(REPLAY_BIN), str(FUZZ_CORPUS)], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    text = out.stdout + out.stderr
    m = re.search(r"replayed (\d+) inputs", text)
    r.sent = int(m.group(1)) if m else 0
    r.failed = 0 if out.returncode == 0 else 1
    r.note(next((line for line in text.splitlines() if line.startswith("request_fuzz_replay:")),
                text[-300:]))
    r.check(out.returncode == 0, f"{shown(REPLAY_BIN)} exit {out.returncode}: "
                                 f"{text.strip().splitlines()[-1] if text.strip() else ''}")
    r.check(r.sent > 0, "the corpus held inputs")
    return r
