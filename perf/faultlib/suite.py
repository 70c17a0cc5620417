"""The cases in the order they run, and the loop that runs them: each in a fresh harness
(a temporary folder; every process it starts stopped by pid afterwards, also when the case
fails or overruns its deadline), its row printed as soon as it is known."""
import os
import shutil
import signal
import time
import traceback

import harness

from . import cases_attack, cases_backends, cases_edge, cases_lifecycle, cases_shop
from .result import CaseResult, table_header, table_line
from .shop import Shop

CASES = {
    "backend_killed": cases_backends.backend_killed,
    "backend_hung": cases_backends.backend_hung,
    "backend_500s": cases_backends.backend_500s,
    "all_backends_down_and_back": cases_backends.all_backends_down_and_back,
    "redis_restart": cases_shop.redis_restart,
    "postgres_restart": cases_shop.postgres_restart,
    "notification_killed": cases_shop.notification_killed,
    "login_flood": cases_attack.login_flood,
    "search_flood": cases_attack.search_flood,
    "redis_slow_or_gone": cases_attack.redis_slow_or_gone,
    "reload_under_load": cases_lifecycle.reload_under_load,
    "shutdown_under_load": cases_lifecycle.shutdown_under_load,
    "admin_drain_under_load": cases_lifecycle.admin_drain_under_load,
    "slowloris": cases_edge.slowloris,
    "idle_10k": cases_edge.idle_10k,
    "malformed_corpus": cases_edge.malformed_corpus,
    "fuzz": cases_edge.fuzz,
}

DEADLINE = {"short": 90, "full": 900}     # seconds per case before it is stopped


class CaseDeadline(BaseException):
    """Raised by the alarm in the main thread; a BaseException so no case swallows it."""


class Context:
    """What a case gets: its harness `h`, the mode, and the shop shared by the shop cases."""

    def __init__(self, short):
        self.short = short
        self.h = None
        self.used_shop = False       # by the running case
        self.keep_shop_logs = bool(os.environ.get("FAULTS_KEEP_LOGS"))
        self._shop = None

    def pick(self, short, full):
        return short if self.short else full

    def shop(self):
        self.used_shop = True
        if self._shop is None:
            self._shop = Shop()
        return self._shop

    def close(self):
        if self._shop is not None:
            self._shop.close()
            if not self.keep_shop_logs:
                shutil.rmtree(self._shop.h.dir, ignore_errors=True)
            self._shop = None


def _alarm(signum, frame):
    raise CaseDeadline("the case overran its deadline")


def run_case(ctx, name, deadline):
    ctx.h = harness.Harness(f"faults-{name}")
    ctx.used_shop = False
    start = time.monotonic()
    result = None
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(deadline)
    try:
        result = CASES[name](ctx)
    except BaseException as e:  # noqa: BLE001 - a case that breaks is a failed case
        traceback.print_exc()
        result = CaseResult(name, "(the case did not finish)")
        result.check(False, f"{type(e).__name__}: {e}")
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        ctx.h.close()
        if result is not None:
            # A balancer that died or would not stop is a failure whatever the counts say.
            for failure in ctx.h.failures:
                result.check(False, failure)
            result.seconds = time.monotonic() - start
            if result.passed and not os.environ.get("FAULTS_KEEP_LOGS"):
                shutil.rmtree(ctx.h.dir, ignore_errors=True)
            else:
                # On the console only: the results files hold no machine-specific path.
                print(f"    (logs in {ctx.h.dir})", flush=True)
                if ctx.used_shop and ctx._shop is not None:
                    ctx.keep_shop_logs = True
                    print(f"    (the shop's logs in {ctx._shop.h.dir})", flush=True)
    return result


def run(names, short, log=print):
    ctx = Context(short)
    results = []
    log(table_header())
    try:
        for name in names:
            result = run_case(ctx, name, DEADLINE["short" if short else "full"])
            results.append(result)
            log(table_line(result))
            for text in result.notes:
                log(f"    {text}")
            for what, held in result.checks:
                if not held:
                    log(f"    NOT MET: {what}")
    finally:
        ctx.close()
    return results
