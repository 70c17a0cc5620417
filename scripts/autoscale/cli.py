"""scripts/autoscaler's command line: reads the policy, starts one control loop per service
(a thread each, so that one service's slow start or drain does not delay another's decision),
and stops deciding on SIGTERM or SIGINT, leaving every instance running and registered."""
import argparse
import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path

from . import policy as policy_module
from .admin import AdminClient
from .controller import Context, ServiceController
from .events import emit
from .instances import InstanceStore

ROOT = Path(__file__).resolve().parents[2]

DESCRIPTION = """\
Adds and removes service instances behind the balancer from its metrics, deciding as the
Kubernetes HPA does: desired = ceil(ready x metric / target), no change within the tolerance,
scale-down to the highest recommendation of the scale-down window, scale-up by at most
max(2 x current, current + 4) per sync period, clamped to [min, max].

The metric comes from Prometheus (recording rules upstream:balancer_*) when it answers, else
from the balancer's /metrics, scraped each sync period (rates from the last two scrapes).
A new instance runs the policy's `command` (or the stack's {run-dir}/launch/<service>.json
plus --listen), in a session of its own; it is registered through the admin API once its
/ready answers 200. Scale-down drains the newest instance the autoscaler started, then stops
it. State: {run-dir}/autoscaler/instances/*.json; a restarted autoscaler adopts the instances
that still run. Every decision is one JSON line on stdout with its inputs."""

EPILOG = """\
environment: STACK_RUN_DIR (run folder), STACK_BIN_DIR (binaries), BALANCER_ADMIN_TOKEN.
The admin API, its token and Prometheus, when neither an option nor the policy names them, are
those of the stack that runs from RUN_DIR (its stack.env, written by scripts/stack up with any
STACK_PORT_OFFSET), else http://127.0.0.1:9901 and http://127.0.0.1:9090.
examples:
  scripts/autoscaler                       # the dev stack's policy, until SIGTERM or Ctrl-C
  scripts/autoscaler --dry-run --once      # one decision per service, nothing done
  scripts/autoscaler --service product --no-prometheus"""


def parse_args(argv):
    a = argparse.ArgumentParser(prog="scripts/autoscaler", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--policy", default=str(ROOT / "config" / "autoscaler.yaml"),
                   help="the policy YAML (default config/autoscaler.yaml)")
    a.add_argument("--run-dir",
                   default=os.environ.get("STACK_RUN_DIR") or str(ROOT / ".run" / "stack"),
                   help="state, logs and launch files (default $STACK_RUN_DIR or .run/stack)")
    a.add_argument("--targets-dir", help="where the Prometheus file-SD files go "
                                         "(default RUN_DIR/prometheus/targets)")
    a.add_argument("--bin-dir",
                   default=os.environ.get("STACK_BIN_DIR") or str(ROOT / "build" / "bin"),
                   help="{bin_dir} in the policy's commands (default $STACK_BIN_DIR or build/bin)")
    a.add_argument("--admin", help="the balancer's admin API URL (default: the policy's admin, "
                                   "then the stack's)")
    a.add_argument("--token", default=os.environ.get("BALANCER_ADMIN_TOKEN"),
                   help="the admin API's bearer token (default $BALANCER_ADMIN_TOKEN, then the "
                        "policy's token or token_file, then the stack's token file)")
    source = a.add_mutually_exclusive_group()
    source.add_argument("--prometheus", metavar="URL",
                        help="Prometheus's URL (default: the policy's)")
    source.add_argument("--no-prometheus", action="store_true",
                        help="never ask Prometheus: scrape the balancer's /metrics")
    a.add_argument("--dry-run", action="store_true",
                   help="print the decisions; start, register, drain and stop nothing")
    a.add_argument("--once", action="store_true",
                   help="one sync per service, then exit, 1 after an error (a rate scraped "
                        "from the balancer waits one sync period for its second scrape)")
    a.add_argument("--service", metavar="NAME", help="only this service of the policy")
    return a.parse_args(argv)


def stack_settings(run_dir):
    """What scripts/stack up wrote into RUN_DIR/stack.env ({} without one): ADMIN_URL,
    ADMIN_TOKEN_FILE, PROMETHEUS_URL (empty: the stack runs no Prometheus)."""
    try:
        lines = (Path(run_dir) / "stack.env").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.partition("=")[::2] for line in lines if "=" in line)


def with_stack(policy, stack):
    """The policy with the admin API, token file and Prometheus it leaves out taken from the
    stack's settings (`stack_settings`)."""
    changes = {}
    if "admin" not in policy.given and stack.get("ADMIN_URL"):
        changes["admin"] = stack["ADMIN_URL"]
    if not {"token", "token_file"} & policy.given and stack.get("ADMIN_TOKEN_FILE"):
        changes["token_file"] = stack["ADMIN_TOKEN_FILE"]
    if "prometheus" not in policy.given and "PROMETHEUS_URL" in stack:
        changes["prometheus"] = stack["PROMETHEUS_URL"] or None
    return dataclasses.replace(policy, **changes)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        policy = policy_module.load(args.policy)
    except policy_module.PolicyError as e:
        print(f"autoscaler: {e}", file=sys.stderr)
        return 2
    services = list(policy.services.values())
    if args.service:
        if args.service not in policy.services:
            print(f"autoscaler: no service '{args.service}' in {args.policy} "
                  f"(there: {', '.join(policy.services)})", file=sys.stderr)
            return 2
        services = [policy.services[args.service]]
    run_dir = Path(args.run_dir).resolve()
    policy = with_stack(policy, stack_settings(run_dir))

    token = args.token or policy.token
    if not token and policy.token_file:
        try:
            token = Path(policy.token_file).read_text().strip()
        except OSError as e:
            print(f"autoscaler: {args.policy}: token_file {policy.token_file}: {e.strerror} "
                  f"(scripts/stack up makes it)", file=sys.stderr)
            return 2
    prometheus = None if args.no_prometheus else (args.prometheus or policy.prometheus)
    stop = threading.Event()
    ctx = Context(
        admin=AdminClient(args.admin or policy.admin, token),
        store=InstanceStore(run_dir),
        run_dir=run_dir,
        targets_dir=Path(args.targets_dir).resolve() if args.targets_dir
        else run_dir / "prometheus" / "targets",
        root=ROOT,
        bin_dir=Path(args.bin_dir).resolve(),
        prometheus=prometheus.rstrip("/") if prometheus else None,
        dry_run=args.dry_run,
        stop=stop,
    )

    def on_signal(signum, frame):
        if not stop.is_set():
            emit("stopping", signal=signal.Signals(signum).name,
                 detail="no more decisions; instances keep running and registered")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emit("start", policy=args.policy, admin=ctx.admin.base_url, prometheus=ctx.prometheus,
         run_dir=str(run_dir), services=[s.name for s in services], dry_run=args.dry_run,
         pid=os.getpid())

    threads = [threading.Thread(target=ServiceController(s, ctx).run, args=(args.once,),
                                name=s.name, daemon=True) for s in services]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.2)  # short joins, so that signals are handled at once
    emit("exit", detail="every instance left as it is", errors=ctx.errors)
    return 1 if args.once and ctx.errors else 0
