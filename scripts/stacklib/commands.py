"""scripts/stack's commands: up, down, status (exit 0 when all run, 3 otherwise) and
prometheus-config."""
import os
import subprocess
import sys
from pathlib import Path

from . import StackError, die, log, run_or_exit
from .files import instance_files, json_field, write_env_file, write_prometheus_files
from .parts import (PartFailed, instance_name, instance_pid, part_address, part_pid,
                    start_balancer, start_prometheus, start_service, stop_autoscaler_instances,
                    stop_part)
from .settings import ALL_SERVICES, Settings

COMMANDS = ("up", "down", "status", "prometheus-config")


def up(s):
    s.check_ports()
    (s.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    root = s.root
    if os.environ.get("STACK_SKIP_SETUP", "0") != "1":
        run_or_exit(["bash", root / "scripts" / "setup"])
    if os.environ.get("STACK_SKIP_BUILD", "0") != "1":
        log("building (Release) into build/")
        run_or_exit(["cmake", "-S", root, "-B", root / "build", "-DCMAKE_BUILD_TYPE=Release"],
                    stdout=subprocess.DEVNULL)
        run_or_exit(["cmake", "--build", root / "build", "-j2"])
    # Before the stores start: `down` stops the stores of a run folder that has this file.
    write_env_file(s, os.path.realpath(os.environ.get("PGDATA_DIR") or root / ".run" / "pg"),
                   os.path.realpath(os.environ.get("REDIS_DIR") or root / ".run" / "redis"))
    for step in (["db", "start"], ["db", "migrate"], ["db", "seed"], ["redis", "start"]):
        run_or_exit([root / "scripts" / step[0], *step[1:]])
    run_or_exit([root / "scripts" / "dev-keys"], stdout=subprocess.DEVNULL)
    run_or_exit([root / "scripts" / "dev-certs", s.certs_dir])

    # user-service first: it writes the JWKS the balancer verifies tokens with.
    for name in sorted(s.services, key=lambda n: n != "user"):
        start_service(s, name)
    start_balancer(s)
    if s.use_prometheus():
        start_prometheus(s)
    elif s.want_prometheus:
        log("prometheus is not installed (scripts/setup installs it): the stack runs without it")
    print_summary(s)


def print_summary(s):
    env = os.environ
    admin_pass = env.get("SHOP_SEED_ADMIN_PASSWORD") or "admin-pass"
    courier_pass = env.get("SHOP_SEED_COURIER_PASSWORD") or "courier-pass"
    admin_email = env.get("SHOP_SEED_ADMIN_EMAIL") or "admin@shop.test"
    courier_email = env.get("SHOP_SEED_COURIER_EMAIL") or "courier@shop.test"
    lines = [
        "",
        f"The stack runs (logs in {s.run_dir}/logs, stop it with scripts/stack down):",
        f"  storefront     http://127.0.0.1:{s.http_port}/   (web/ in a browser: sign in, "
        f"order, watch the status change)",
        f"  shop API       http://127.0.0.1:{s.http_port}/api/...",
        f"                 https://127.0.0.1:{s.tls_port}   (shop.test, localhost, 127.0.0.1; CA "
        f"{s.certs_dir}/ca.crt)",
        f"  admin          http://127.0.0.1:{s.admin_port}   (status page /?token=TOKEN, "
        f"/metrics, /upstreams; TOKEN: {s.keys_dir}/admin-token)",
    ]
    lines += [f"  {name:<14} http://127.0.0.1:{s.service_port(name)}" for name in s.services]
    if s.use_prometheus():
        lines.append(f"  {'prometheus':<14} http://127.0.0.1:{s.prometheus_port}   "
                     f"(/targets, /graph; rules upstream:*)")
    lines += [
        f"  PostgreSQL     {s.database_url}   (scripts/db psql)",
        f"  Redis          127.0.0.1:{s.redis_port}   (scripts/redis cli)",
        f"Accounts: {admin_email} / {admin_pass} (admin), {courier_email} / {courier_pass} "
        f"(courier)",
        "Try:",
        f"  curl -s http://127.0.0.1:{s.http_port}/api/auth/login -H 'Content-Type: "
        f"application/json' \\",
        f"    -d '{{\"email\":\"{admin_email}\",\"password\":\"{admin_pass}\"}}'",
        f"  curl -s http://127.0.0.1:{s.http_port}/api/products",
        f"  curl -s --cacert {s.certs_dir}/ca.crt --resolve shop.test:{s.tls_port}:127.0.0.1 \\",
        f"    https://shop.test:{s.tls_port}/api/products",
        f"  curl -s -H \"Authorization: Bearer $(cat {s.keys_dir}/admin-token)\" "
        f"http://127.0.0.1:{s.admin_port}/upstreams",
    ]
    print("\n".join(lines), flush=True)


def down(s):
    stop_part(s, "prometheus")
    stop_part(s, "balancer")
    stop_autoscaler_instances(s)
    for name in reversed(ALL_SERVICES):
        stop_part(s, f"{name}-service")
    # Only the stores of a run folder `up` has used: a database someone runs for other work
    # (scripts/db start) with no stack is not ours to stop.
    if not s.env_file.is_file():
        log(f"no stack was started from {s.run_dir}: PostgreSQL and Redis left as they are")
        return
    run_or_exit([s.root / "scripts" / "redis", "stop"])
    run_or_exit([s.root / "scripts" / "db", "stop"])


def status(s):
    """One line per part and per autoscaler instance; 0 when all run, 3 otherwise."""
    rc = 0

    def line(name, state):
        print(f"{name:<22} {state}", flush=True)

    for name in ALL_SERVICES:
        part = f"{name}-service"
        pid = part_pid(s, part)
        if pid:
            line(part, f"running (pid {pid}, {part_address(s, part)})")
        elif name in s.services:
            line(part, "stopped")
            rc = 3
        else:
            line(part, "stopped (not in STACK_SERVICES)")
    for path in instance_files(s):  # not counted: the autoscaler drops stopped ones
        pid = instance_pid(path)
        where = path.relative_to(s.run_dir)
        line(instance_name(path), f"running (pid {pid}, {json_field(path, 'address')}; {where})"
             if pid else f"stopped ({where})")
    pid = part_pid(s, "balancer")
    if pid:
        line("balancer", f"running (pid {pid}, {part_address(s, 'balancer')})")
    else:
        line("balancer", "stopped")
        rc = 3
    pid = part_pid(s, "prometheus")
    if pid:
        line("prometheus", f"running (pid {pid}, http://{part_address(s, 'prometheus')})")
    elif s.prometheus_started:
        line("prometheus", "stopped")
        rc = 3
    elif not s.prometheus_bin:
        line("prometheus", "not installed (scripts/setup installs it)")
    else:
        line("prometheus", "stopped (not started by up)")
    for store, prefix in (("redis", "redis: "), ("db", "db: ")):
        sys.stdout.flush()
        r = subprocess.run([str(s.root / "scripts" / store), "status"], stdout=subprocess.PIPE,
                           text=True, stdin=subprocess.DEVNULL)
        text = r.stdout.rstrip("\n")
        line("redis" if store == "redis" else "postgresql", text.removeprefix(prefix))
        if r.returncode != 0:
            rc = 3
    return rc


def prometheus_config(s):
    # The balancer job reads the admin token (scripts/dev-keys makes it once, then keeps it).
    run_or_exit([s.root / "scripts" / "dev-keys"], stdout=subprocess.DEVNULL)
    write_prometheus_files(s)
    print(s.prometheus_dir / "prometheus.yml")


def main(argv, root):
    """scripts/stack COMMAND [ARG]; the wrapper has checked that COMMAND is one of COMMANDS."""
    command, args = argv[0], argv[1:]
    try:
        want_prometheus = None
        for arg in args:
            if command == "up" and arg == "--no-prometheus":
                want_prometheus = False
            else:
                die(f"unknown argument '{arg}' for {command} (scripts/stack --help lists them)")
        s = Settings(Path(root), command)
        if want_prometheus is False:
            s.want_prometheus = False
        # scripts/db, scripts/redis and scripts/dev-keys read these; the parts inherit them.
        os.environ.update(s.store_env())
        if command == "up":
            up(s)
        elif command == "down":
            down(s)
        elif command == "status":
            return status(s)
        elif command == "prometheus-config":
            prometheus_config(s)
        else:
            die(f"unknown command '{command}'")
        return 0
    except PartFailed as e:
        print(f"stack: {e}", file=sys.stderr)
        print("stack: the parts already started keep running: scripts/stack down stops them",
              file=sys.stderr)
        return 1
    except StackError as e:
        sys.stdout.flush()
        print(f"stack: {e}", file=sys.stderr)
        return 1
