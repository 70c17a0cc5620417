"""The service instances the autoscaler runs: how one is started (in a session of its own, so
that the autoscaler's end is not theirs), stopped by pid, remembered in a state file per
instance, and published to Prometheus through a file-based service-discovery file.

State, under the run folder (scripts/stack down stops these pids too):
    autoscaler/instances/<service>-<port>.json  {"service", "address", "port", "pid",
                                                 "started_at" (Unix seconds), "argv"}
    logs/<service>-<port>.log                   the instance's output
    prometheus/targets/services-<service>-autoscaler.json (by default; --targets-dir)
"""
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import launch


@dataclass(frozen=True)
class Instance:
    service: str
    address: str
    port: int
    pid: int
    started_at: float
    argv: list


class InstanceStore:
    """The state files of the instances, one per instance."""

    def __init__(self, run_dir):
        self.dir = Path(run_dir) / "autoscaler" / "instances"

    def list(self, service):
        """The instances of `service`, oldest first; unreadable files are skipped."""
        found = []
        for path in sorted(self.dir.glob(f"{service}-*.json")):
            try:
                data = json.loads(path.read_text())
                instance = Instance(**data)
            except (OSError, ValueError, TypeError):
                continue
            if instance.service == service:
                found.append(instance)
        return sorted(found, key=lambda i: i.started_at)

    def save(self, instance):
        launch.write_json(self._path(instance), asdict(instance), indent=2)

    def remove(self, instance):
        self._path(instance).unlink(missing_ok=True)

    def _path(self, instance):
        return self.dir / f"{instance.service}-{instance.port}.json"


def write_targets(targets_dir, service, instances):
    """The file-based service discovery file of the instances the autoscaler runs."""
    group = {"targets": [i.address for i in instances], "labels": {"service": service}}
    launch.write_json(Path(targets_dir) / f"services-{service}-autoscaler.json", [group])


# --- processes ----------------------------------------------------------------------------------

alive = launch.alive


def is_service_process(pid):
    """Whether `pid` runs and is a *-service binary (not a reused pid of something else)."""
    return launch.alive(pid) and launch.program(pid).endswith("-service")


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_port(ports, taken):
    """The first port of the range that is not `taken` and can be bound now; None if none."""
    for port in ports:
        if port not in taken and port_is_free(port):
            return port
    return None


def launch_command(command, run_dir, service, root, bin_dir, port):
    """(argv, cwd) to start an instance on `port`: the policy's command with its placeholders
    filled in, or else the stack's launch file for the service plus --listen."""
    if command:
        values = {"port": port, "root": root, "bin_dir": bin_dir}
        return [arg.format(**values) for arg in command], str(root)
    launch = Path(run_dir) / "launch" / f"{service}.json"
    try:
        data = json.loads(launch.read_text())
        argv = [str(a) for a in data["argv"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"no command for {service}: the policy has none and {launch} "
                           f"cannot be read ({e})") from None
    return argv + ["--listen", f"127.0.0.1:{port}"], str(data.get("cwd") or root)


def start(argv, cwd, log_path):
    """Starts `argv` in a session of its own (a signal to the autoscaler's group does not
    reach it), its output appended to `log_path`. Returns the Popen."""
    child = launch.Child(launch.Process(name=Path(log_path).stem, argv=argv, log=log_path,
                                        cwd=cwd, append_log=True, new_session=True))
    child.close_log()  # the process has its own copy of the descriptor
    return child.proc


def wait_ready(port, timeout, still_running):
    """Polls GET /ready until 2xx (True), the process exits or `timeout` passes (False)."""
    check = launch.HttpAnswers(f"http://127.0.0.1:{port}/ready")
    return bool(launch.wait(check, timeout, still_running, interval=0.1))


# SIGTERM (the service drains), then SIGKILL after `timeout` seconds; `child` is the Popen when
# this process started it (so that it is reaped). Returns True when SIGKILL was needed.
stop = launch.stop
