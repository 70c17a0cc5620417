#!/usr/bin/env python3
"""Port 0: listeners and the admin API on `IP:0` bind once, every worker listens on the port
the kernel gave (SO_REUSEPORT: each worker binding port 0 itself would get a port of its own),
the bound addresses are logged (`listening name=NAME address=IP:PORT`, `admin listening ...
port=N`: what the harness reads), redirect_to_https names the TLS listener's bound port, and
on SIGHUP each kept listener keeps its port and its own settings (two listeners both say
127.0.0.1:0: matched by name too) while a new port-0 listener gets a port of its own."""
import signal
import socket
import ssl

from harness import dev_certs, http_request, run, wait_for

WORKERS = 3


def listening_sockets(port):
    """How many sockets listen on 127.0.0.1:port (/proc/net/tcp, state 0A = LISTEN)."""
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            ip, hex_port = fields[1].split(":")
            if fields[3] == "0A" and ip == "0100007F" and int(hex_port, 16) == port:
                count += 1
    return count


def config(certs, extra_listener=""):
    return f"""\
workers: {WORKERS}
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:0 }}
listeners:
  - name: tls
    address: 127.0.0.1:0
    tls:
      certificates:
        - {{ cert: {certs}/shop.test.crt, key: {certs}/shop.test.key }}
  - {{ name: redirect, address: 127.0.0.1:0, redirect_to_https: true }}
{extra_listener}upstreams:
  app:
    backends: [{{ address: 127.0.0.1:{{backend}} }}]
routes:
  - match: {{ path_prefix: / }}
    upstream: app
"""


def redirect_location(port):
    """The Location of the redirect listener on `port` for GET /a?b=1 (Host shop.test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /a?b=1 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "location":
            return value.strip()
    return f"(no Location in {head!r})"


def tls_get(port, ca):
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="shop.test") as s:
            s.sendall(b"GET /headers HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test(h):
    certs = h.dir / "certs"
    dev_certs(certs, "shop.test")
    backend = h.backend("a")
    text = config(certs).replace("{backend}", str(backend.port))
    lb = h.balancer(text)  # no port: read from the log
    ports = lb.ports

    with h.step("each listener and the admin API got a port of its own"):
        h.expect_eq(sorted(ports), ["redirect", "tls"], "listeners logged")
        bound = [ports.get("tls"), ports.get("redirect"), lb.admin_port]
        h.expect(all(isinstance(p, int) and p > 0 for p in bound), f"bound ports {bound}")
        h.expect_eq(len(set(bound)), 3, f"distinct ports in {bound}")
        h.expect_eq(lb.port, ports.get("tls"), "Balancer.port (the first listener's)")

    with h.step(f"all {WORKERS} workers listen on the one port each listener got"):
        for name in ("tls", "redirect"):
            h.expect_eq(listening_sockets(ports[name]), WORKERS,
                        f"listening sockets on {name}'s port {ports[name]}")
        h.expect_eq(listening_sockets(lb.admin_port), 1, "listening sockets on the admin port")

    with h.step("the logged ports serve: TLS, the redirect, the admin API"):
        h.expect_eq(tls_get(ports["tls"], certs / "ca.crt"), "HTTP/1.1 200 OK", "TLS GET status")
        h.expect_eq(redirect_location(ports["redirect"]),
                    f"https://shop.test:{ports['tls']}/a?b=1", "redirect Location")
        h.expect_eq(http_request(lb.admin_port, "GET", "/upstreams", timeout=5).status, 200,
                    "admin GET /upstreams")

    with h.step("SIGHUP: kept listeners keep their ports, a new port-0 listener gets its own"):
        extra = "  - { name: extra, address: 127.0.0.1:0, redirect_to_https: true }\n"
        h.write(lb.config_path.name, config(certs, extra).replace("{backend}", str(backend.port)))
        lb.proc.send_signal(signal.SIGHUP)
        h.expect(wait_for(lambda: "configuration reloaded" in lb.log_text(), 15),
                 "reload logged 'configuration reloaded'")
        after = lb.ports
        h.expect_eq({k: after.get(k) for k in ("tls", "redirect")}, ports,
                    "the kept listeners' ports")
        extra_port = after.get("extra")
        h.expect(isinstance(extra_port, int) and extra_port > 0, f"extra's port: {extra_port}")
        h.expect_eq(lb.log_text().count("listening name=tls "), 1,
                    "the kept TLS listener was not bound again")
        if extra_port:
            h.expect(extra_port not in ports.values() and extra_port != lb.admin_port,
                     f"extra's port {extra_port} is new")
            h.expect_eq(listening_sockets(extra_port), WORKERS, "listening sockets on extra's port")
            # The new listener's redirect names the kept TLS listener's bound port.
            h.expect_eq(redirect_location(extra_port), f"https://shop.test:{ports['tls']}/a?b=1",
                        "extra's redirect Location")

    with h.step("after SIGHUP each kept listener still serves as itself"):
        for _ in range(WORKERS * 3):  # connections spread over the workers' sockets
            h.expect_eq(tls_get(ports["tls"], certs / "ca.crt"), "HTTP/1.1 200 OK",
                        "TLS GET status")
            h.expect_eq(redirect_location(ports["redirect"]),
                        f"https://shop.test:{ports['tls']}/a?b=1", "redirect Location")


if __name__ == "__main__":
    run(test)
