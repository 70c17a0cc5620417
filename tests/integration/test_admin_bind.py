#!/usr/bin/env python3
"""An admin address that cannot be bound is a startup error: the balancer says which address
and why, exits 1, and never opens its listeners or starts a worker (the admin API is bound
first; it used to be bound after the workers ran, which then exited the process from under
them)."""
import socket
import subprocess

from harness import BALANCER_BIN, free_port, run, simple_config


def test(h):
    backend = h.backend("a")
    occupied = socket.socket()
    occupied.bind(("127.0.0.1", 0))
    occupied.listen(1)
    h.cleanups.append(occupied.close)
    admin_port = occupied.getsockname()[1]
    listener_port = free_port()
    config = simple_config(listener_port, [backend.port], workers=2,
                           extra_top=f"admin: {{ address: 127.0.0.1:{admin_port} }}")
    path = h.write("balancer.yaml", config)

    with h.step("the balancer exits 1 naming the admin address and the error"):
        proc = subprocess.run([BALANCER_BIN, "-c", str(path)], capture_output=True, text=True,
                              timeout=15, stdin=subprocess.DEVNULL)
        output = proc.stdout + proc.stderr
        print("   " + "\n   ".join(output.splitlines()), flush=True)
        h.expect_eq(proc.returncode, 1, "exit status")
        h.expect(f"admin: cannot listen on 127.0.0.1:{admin_port}: address already in use"
                 in output, "the error names the address and the reason")
        h.expect("balancer not started" in output, "the log says the balancer did not start")

    with h.step("no listener was opened and no worker started"):
        h.expect("listening name=" not in output, "a listener was opened")
        h.expect("balancer started" not in output, "workers were started")

    with h.step("the same configuration starts once the admin port is free"):
        occupied.close()
        lb = h.balancer(config, listener_port)
        h.expect_eq(lb.get("/headers").status, 200, "a proxied request")


if __name__ == "__main__":
    run(test)
