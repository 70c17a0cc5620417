#!/usr/bin/env python3
"""A listener address another process already listens on is an error, even when that process
set SO_REUSEPORT as the balancer does: the balancer's own SO_REUSEPORT bind would otherwise
join it, and the kernel would split the connections between the two (a second balancer started
with the same file, or beside a running `scripts/stack`, silently took half of the first one's
clients). At start: exit 1 naming the address; on SIGHUP: the reload fails, the running
configuration stays."""
import os
import re
import signal
import socket
import subprocess

from harness import BALANCER_BIN, free_port, run, simple_config, wait_for


def reuseport_listener(port):
    """A socket that listens as every worker of a balancer does (SO_REUSEPORT)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


def start_expecting_failure(h, path):
    """Runs the balancer on `path`; (exit status or None when it kept running, output)."""
    proc = subprocess.Popen([BALANCER_BIN, "-c", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=5)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        status = None
    print("   " + "\n   ".join(out.splitlines()), flush=True)
    return status, out


def test(h):
    backend = h.backend("a")

    with h.step("a port another process listens on with SO_REUSEPORT: exit 1, named"):
        port = free_port()
        holder = reuseport_listener(port)
        h.cleanups.append(holder.close)
        path = h.write("taken.yaml", simple_config(port, [backend.port], workers=2))
        status, out = start_expecting_failure(h, path)
        h.expect_eq(status, 1, "exit status (None: it started, sharing the port)")
        h.expect(f"listener public: cannot listen on 127.0.0.1:{port}: address already in use"
                 in out, "the error names the listener, the address and the reason")
        h.expect("balancer not started" in out, "the log says it did not start")
        holder.close()

    with h.step("a second balancer with the same file as a running one: exit 1"):
        port = free_port()
        config = simple_config(port, [backend.port], workers=2)
        first = h.balancer(config, port)
        status, out = start_expecting_failure(h, h.write("second.yaml", config))
        h.expect_eq(status, 1, "the second one's exit status")
        h.expect_eq(first.get("/headers").status, 200, "the first still serves")

    with h.step("SIGHUP adding a listener on a port in use: the reload fails, the old one stays"):
        taken = free_port()
        holder = reuseport_listener(taken)
        h.cleanups.append(holder.close)
        before = first.log_text().count("SIGHUP")
        first.config_path.write_text(config.replace(
            "listeners:\n", f"listeners:\n  - {{ name: extra, address: 127.0.0.1:{taken} }}\n"))
        os.kill(first.pid, signal.SIGHUP)
        h.expect(wait_for(lambda: re.search(r"SIGHUP: listener extra: cannot listen on "
                                            rf"127\.0\.0\.1:{taken}: address already in use",
                                            first.log_text()), 10),
                 "the reload's error names the listener and the address")
        h.expect(first.log_text().count("SIGHUP") > before, "the reload ran")
        h.expect_eq(first.get("/headers").status, 200, "the running configuration serves")
        holder.close()

    with h.step("SIGHUP moving a listener from 127.0.0.1:P to 0.0.0.0:P: its own port, reloaded"):
        first.config_path.write_text(config.replace(f"127.0.0.1:{port}", f"0.0.0.0:{port}"))
        os.kill(first.pid, signal.SIGHUP)
        h.expect(wait_for(lambda: "configuration reloaded" in first.log_text(), 10),
                 f"reloaded: {first.log_text()[-600:]}")
        h.expect("address already in use" not in first.log_text().split("SIGHUP")[-1],
                 "no 'in use' error for the balancer's own port")
        h.expect_eq(first.get("/headers").status, 200, "serves on the new address")


if __name__ == "__main__":
    run(test)
