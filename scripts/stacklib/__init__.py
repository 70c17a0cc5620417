"""scripts/stack's code (scripts/stack is a thin wrapper that runs this package):

    settings.py  where things are and which ports, from the environment (STACK_*, PG_PORT...)
    files.py     files other tools read: launch/<service>.json, stack.env, the balancer's
                 shifted configuration, prometheus/ (configuration, rules, targets)
    parts.py     the parts it starts and stops by pid (scripts/launch): services, balancer,
                 Prometheus, and the instances scripts/autoscaler started
    commands.py  up, down, status, prometheus-config
"""
import subprocess
import sys


class StackError(Exception):
    """Printed as "stack: MESSAGE" on stderr; the command exits 1."""


def log(message):
    print(f"stack: {message}", flush=True)


def die(message):
    raise StackError(message)


def run_or_exit(argv, **kw):
    """Runs a step (scripts/db, cmake...) with this program's output; a failure ends the
    command with the step's exit code, as `set -e` did."""
    sys.stdout.flush()
    r = subprocess.run([str(a) for a in argv], **kw)
    if r.returncode != 0:
        sys.exit(r.returncode)
    return r
