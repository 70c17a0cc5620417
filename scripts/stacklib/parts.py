"""The parts the stack starts, each a launch.Process in a session of its own (a closed
terminal's SIGHUP does not reach it) from the project root, its output appended to
logs/<part>.log, its pid in <part>.pid and its address in <part>.address; stopped by pid."""
import os
import signal
import subprocess
import sys

import launch

from . import die, log
from .files import balancer_config, instance_files, json_field, write_launch_file, \
    write_prometheus_files

STOP_TIMEOUT = 15.0   # the services and the balancer drain for up to shutdown_timeout (10 s)


class PartFailed(Exception):
    """A part exited or was not ready: its log's end is printed, the command exits 1."""


def pid_file(s, name):
    return launch.PidFile(s.run_dir / f"{name}.pid", name)


def part_pid(s, name):
    return pid_file(s, name).pid()


def part_address(s, name):
    try:
        return (s.run_dir / f"{name}.address").read_text().strip()
    except OSError:
        return "?"


def start_part(s, name, address, argv, ready, seconds):
    """Starts a part, records its pid and address, waits (bounded) until `ready` passes."""
    spec = launch.Process(name=name, argv=argv, log=s.run_dir / "logs" / f"{name}.log",
                          cwd=s.root, ready=ready, ready_timeout=seconds, append_log=True,
                          new_session=True)
    child = launch.Child(spec)
    pid_file(s, name).write(child.pid)
    (s.run_dir / f"{name}.address").write_text(f"{address}\n")
    try:
        child.wait_ready()
    except launch.StartError as e:
        raise PartFailed(str(e)) from None
    finally:
        child.close_log()


def stop_pid(name, pid):
    """SIGTERM, a bounded wait, then SIGKILL; says which it took."""
    if launch.stop(pid, STOP_TIMEOUT):
        log(f"killed {name} (pid {pid}): it did not exit within {STOP_TIMEOUT:g} s of SIGTERM")
    else:
        log(f"stopped {name} (pid {pid})")


def stop_part(s, name):
    pid = part_pid(s, name)
    if pid:
        stop_pid(name, pid)
    elif pid_file(s, name).exists():
        log(f"{name}: not running")
    pid_file(s, name).remove()


# --- services ---------------------------------------------------------------------------------

def service_args(s, name):
    """The service's arguments without --listen. The files name the default ports and
    folders; anything else goes on the command line (which wins over the files and over SHOP_*
    variables, so only when it differs)."""
    args = ["--config", str(s.root / "config" / "services" / f"{name}.yaml")]
    if s.pg_port != 25432:
        args += ["--set", f"database.url={s.database_url}"]
    if s.redis_port != 26379:
        args += ["--set", f"redis.address=127.0.0.1:{s.redis_port}"]
    if name == "user" and s.keys_dir != s.root / ".run" / "keys":
        args += ["--set", f"jwt.private_keys={s.keys_dir}/jwt-es256.pem",
                 "--set", f"jwt.jwks_file={s.keys_dir}/jwks.json"]
    return args


def start_service(s, name):
    binary = s.bin_dir / f"{name}-service"
    port = s.service_port(name)
    argv = [str(binary), *service_args(s, name)]
    part = f"{name}-service"
    pid = part_pid(s, part)
    if pid:
        # A stack started before launch files existed gets one: the same arguments.
        if not (s.run_dir / "launch" / f"{name}.json").exists():
            write_launch_file(s, name, argv)
        log(f"{part} already running (pid {pid}, 127.0.0.1:{port}): kept")
        return
    if not binary.is_file() or not _executable(binary):
        die(f"{binary} missing (build it, or choose the services to run with STACK_SERVICES); "
            f"scripts/stack down stops the parts already started")
    write_launch_file(s, name, argv)
    if s.offset != 0:
        argv += ["--listen", f"127.0.0.1:{port}"]
    # Bounded: a first start creates the seeded accounts (password hashing) and the JWKS.
    start_part(s, part, f"127.0.0.1:{port}", argv,
               launch.HttpAnswers(f"http://127.0.0.1:{port}/ready"), 20)
    log(f"{part} running (pid {part_pid(s, part)}, 127.0.0.1:{port})")


def _executable(path):
    return os.access(path, os.X_OK)


# --- the balancer and Prometheus ------------------------------------------------------------

def start_balancer(s):
    """Starts the balancer on config/stack.yaml (or its shifted copy); one already running
    gets the configuration again, checked, by SIGHUP: `up` after an edit applies it."""
    binary = s.bin_dir / "balancer"
    if not binary.is_file() or not _executable(binary):
        die(f"{binary} missing (build it: cmake --build build --target balancer)")
    config = balancer_config(s)
    check = subprocess.run([str(binary), "-t", "-c", str(config)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    pid = part_pid(s, "balancer")
    if check.returncode != 0:
        print(check.stdout.rstrip("\n"), file=sys.stderr)
        die(f"the balancer's configuration {config} does not pass balancer -t"
            + (" (the running balancer keeps its configuration)" if pid else ""))
    if pid:
        launch.send(pid, signal.SIGHUP)  # re-reads the configuration just checked
        log(f"balancer already running (pid {pid}, {part_address(s, 'balancer')}): kept, "
            f"configuration reloaded (SIGHUP; {s.run_dir}/logs/balancer.log says when in use)")
        return
    start_part(s, "balancer", f"127.0.0.1:{s.http_port}, https 127.0.0.1:{s.tls_port}, "
                              f"admin 127.0.0.1:{s.admin_port}",
               [str(binary), "-c", str(config)],
               launch.HttpAnswers(f"http://127.0.0.1:{s.http_port}/", ok_only=False), 10)
    log(f"balancer running (pid {part_pid(s, 'balancer')}, http 127.0.0.1:{s.http_port}, "
        f"https 127.0.0.1:{s.tls_port}, config {config})")


def start_prometheus(s):
    url = f"http://127.0.0.1:{s.prometheus_port}"
    write_prometheus_files(s)
    pid = part_pid(s, "prometheus")
    if pid:
        launch.send(pid, signal.SIGHUP)  # re-reads the configuration just copied
        log(f"prometheus already running (pid {pid}, {part_address(s, 'prometheus')}): kept, "
            f"configuration reloaded")
        return
    # Quiet (warnings only) and small (two days, at most 256 MB), as a development tool.
    d = s.prometheus_dir
    start_part(s, "prometheus", f"127.0.0.1:{s.prometheus_port}",
               [s.prometheus_bin, f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'data'}", "--storage.tsdb.retention.time=2d",
                "--storage.tsdb.retention.size=256MB",
                f"--web.listen-address=127.0.0.1:{s.prometheus_port}", "--log.level=warn"],
               launch.HttpAnswers(f"{url}/-/ready"), 20)
    log(f"prometheus running (pid {part_pid(s, 'prometheus')}, {url})")


# --- the autoscaler's instances -------------------------------------------------------------

def instance_pid(path):
    """The pid of the instance in state file `path` when that process still runs a *-service
    binary; None otherwise (it exited, or its pid was reused)."""
    pid = json_field(path, "pid")
    if not pid.isdigit() or not launch.alive(int(pid)):
        return None
    return int(pid) if launch.program(int(pid)).endswith("-service") else None


def instance_name(path):
    return f"{json_field(path, 'service')}-service"


def stop_autoscaler_instances(s):
    """Stops the service instances scripts/autoscaler started and forgets them."""
    for path in instance_files(s):
        name = f"{instance_name(path)} {json_field(path, 'address')} (autoscaler)"
        pid = instance_pid(path)
        if pid:
            stop_pid(name, pid)
        else:
            log(f"{name}: not running")
        path.unlink(missing_ok=True)
    # Their targets for Prometheus went with them; the autoscaler writes the file anew.
    for path in (s.prometheus_dir / "targets").glob("services-*-autoscaler.json"):
        path.unlink(missing_ok=True)
