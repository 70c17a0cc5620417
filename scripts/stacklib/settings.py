"""Where the stack's things are and which ports it uses, from the environment (the variables
scripts/stack documents). Every default port sits below Linux's ephemeral range (32768-60999):
a test's or client's TIME-WAIT connection on a port there blocks the bind, even with
SO_REUSEADDR."""
import os
import re
import shutil
from pathlib import Path

from . import die

SERVICE_PORTS = {"user": 7001, "product": 7101, "order": 7201, "notification": 7301}
ALL_SERVICES = list(SERVICE_PORTS)


def _path(value):
    return Path(os.path.realpath(os.path.abspath(value)))


class Settings:
    def __init__(self, root, command, env=os.environ):
        self.root = Path(root)
        self.run_dir = _path(env.get("STACK_RUN_DIR") or self.root / ".run" / "stack")
        self.env_file = self.run_dir / "stack.env"
        self.prometheus_dir = self.run_dir / "prometheus"
        self.instances_dir = self.run_dir / "autoscaler" / "instances"

        # `down` and `status` find the stores where `up` put them, without the same
        # environment, and `status` knows whether `up` started Prometheus.
        self.store_dirs = {}
        self.prometheus_started = False
        if command != "up" and self.env_file.is_file():
            for line in self.env_file.read_text().splitlines():
                key, _, value = line.partition("=")
                if key in ("PGDATA_DIR", "REDIS_DIR") and not env.get(key):
                    self.store_dirs[key] = value
                elif key == "PROMETHEUS":
                    self.prometheus_started = value == "1"

        self.bin_dir = _path(env.get("STACK_BIN_DIR") or self.root / "build" / "bin")
        offset = env.get("STACK_PORT_OFFSET") or "0"
        if not re.fullmatch(r"-?[0-9]+", offset):
            die(f"STACK_PORT_OFFSET must be a number, not '{offset}'")
        self.offset = int(offset)
        self.keys_dir = _path(env.get("KEYS_DIR") or self.root / ".run" / "keys")
        self.certs_dir = _path(env.get("CERTS_DIR") or self.root / ".run" / "certs")
        self.services = (env["STACK_SERVICES"] if "STACK_SERVICES" in env
                         else " ".join(ALL_SERVICES)).split()

        self.pg_port = int(env.get("PG_PORT") or self.port(25432))
        self.redis_port = int(env.get("REDIS_PORT") or self.port(26379))
        self.http_port = self.port(8080)
        self.tls_port = self.port(8443)
        self.admin_port = self.port(9901)
        prometheus_port = env.get("STACK_PROMETHEUS_PORT") or str(self.port(9090))
        if not re.fullmatch(r"[0-9]+", prometheus_port):
            die(f"STACK_PROMETHEUS_PORT must be a number, not '{prometheus_port}'")
        self.prometheus_port = int(prometheus_port)
        self.database_url = f"postgresql://shop@127.0.0.1:{self.pg_port}/shop"
        for s in self.services:
            self.service_port(s)
        self.prometheus_bin = shutil.which("prometheus")
        self.want_prometheus = env.get("STACK_PROMETHEUS", "1") != "0"

    def port(self, base):
        return base + self.offset

    def service_port(self, name):
        if name not in SERVICE_PORTS:
            die(f"unknown service '{name}' in STACK_SERVICES (user, product, order, "
                f"notification)")
        return self.port(SERVICE_PORTS[name])

    def check_ports(self):
        for p in (self.pg_port, self.redis_port, self.http_port, self.tls_port,
                  self.admin_port, self.port(7001), self.port(7301), self.prometheus_port):
            if p < 1024 or p > 65535:
                die(f"port {p} out of range: choose another STACK_PORT_OFFSET (or set PG_PORT, "
                    f"REDIS_PORT)")

    def use_prometheus(self):
        """Prometheus runs when its server is installed (Debian's package) and not turned off."""
        return self.want_prometheus and bool(self.prometheus_bin)

    def store_env(self):
        """What scripts/db, scripts/redis and scripts/dev-keys read (and the parts inherit)."""
        return {"PG_PORT": str(self.pg_port), "REDIS_PORT": str(self.redis_port),
                "KEYS_DIR": str(self.keys_dir), **self.store_dirs}

    def default_folders(self):
        """Whether the ports and folders are config/stack.yaml's and the services' files'."""
        return (self.offset == 0 and self.redis_port == 26379
                and self.keys_dir == self.root / ".run" / "keys"
                and self.certs_dir == self.root / ".run" / "certs")
