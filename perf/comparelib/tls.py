"""TLS for the tls, tls-handshake and tls-resume scenarios: one certificate for every proxy
(scripts/dev-certs, EC P-256), each peer's config fragment for it, wrk pinned to one protocol
version, the LD_PRELOAD shim that stops wrk from resuming sessions (and counts), and the
probes of what each proxy negotiates."""
import os
import re
import socket
import ssl
import subprocess
import threading

from . import REPO_DIR, log, md_cell
from .probe import client_tls_context
from .scenario import Fixture

TLS_HOST = "shop.test"    # the certificate's name (scripts/dev-certs); wrk connects to 127.0.0.1

ARGUMENTS = ((("--tls-version",), dict(choices=["1.2", "1.3"], default="1.3",
                                       help="the one protocol version wrk offers in the TLS scenarios "
                                            "(default 1.3)")),)

# LD_PRELOAD for wrk in the handshake scenarios.  wrk keeps one SSL object per
# connection and, to reconnect, calls SSL_shutdown() + SSL_clear(); SSL_clear()
# keeps the session of a cleanly shut down connection, so the next handshake
# offers it and every server resumes it (measured: 1381 of 1383 handshakes
# resumed against a Python TLS server).  With PERF_NORESUME=1 the shim drops
# the session after SSL_clear(), so every handshake is a full one.  In both
# cases it counts, per closed connection, whether its handshake was resumed,
# and prints the counts when wrk exits.  No OpenSSL headers needed.
TLS_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
static unsigned long handshakes, resumed;
int SSL_clear(SSL *s) {
    static int (*real_clear)(SSL *);
    static int (*set_session)(SSL *, SSL_SESSION *);
    static int (*session_reused)(const SSL *);
    static int (*is_init_finished)(const SSL *);
    static int noresume = -1;
    if (!real_clear) {
        real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
        set_session = (int (*)(SSL *, SSL_SESSION *))dlsym(RTLD_NEXT, "SSL_set_session");
        session_reused = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_session_reused");
        is_init_finished = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_is_init_finished");
        const char *e = getenv("PERF_NORESUME");
        noresume = e && *e == '1';
    }
    if (is_init_finished && session_reused && is_init_finished(s)) {
        __atomic_add_fetch(&handshakes, 1, __ATOMIC_RELAXED);
        if (session_reused(s))
            __atomic_add_fetch(&resumed, 1, __ATOMIC_RELAXED);
    }
    int r = real_clear(s);
    if (noresume && set_session)
        set_session(s, 0);
    return r;
}
__attribute__((destructor)) static void report(void) {
    fprintf(stdout, "PERFTLS {\"handshakes\":%lu,\"resumed\":%lu}\n", handshakes, resumed);
    fflush(stdout);
}
"""


def fragments(peer, certs):
    """Each peer's config for TLS termination with the one certificate: TLS 1.2 and 1.3
    accepted (wrk offers one of them); otherwise each peer's defaults (HAProxy: tickets on,
    20,000-entry session cache)."""
    crt, key, pem = (os.path.join(certs, f"{TLS_HOST}.{x}") for x in ("crt", "key", "pem"))
    return {
        "haproxy": {"BIND_TLS": f" ssl crt {pem} ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3"},
        "nginx": {"LISTEN_TLS": " ssl",
                  "TLS_DIRECTIVES": (f"        ssl_certificate {crt};\n        ssl_certificate_key {key};\n"
                                     f"        ssl_protocols TLSv1.2 TLSv1.3;")},
        "balancer": {"LISTENER_TLS": (f", tls: {{ certificates: [{{ cert: {crt}, key: {key} }}], "
                                      f"min_version: \"1.2\" }}")},
    }.get(peer, {})


class TlsMaterial(Fixture):
    """The certificate, wrk's environment per TLS scenario, what each peer negotiated."""

    def __init__(self, bench):
        super().__init__(bench)
        self.certs = None
        self.error = None         # the set-up failed: every TLS row says so
        self.wrk_env = {}         # scenario -> environment for wrk
        self.params = {}          # target -> what a client negotiates (first TLS start)
        self.check = None         # wrk_resumption_check() result

    def setup(self, scenarios):
        self.error = self._setup(scenarios)
        if self.error:
            log(f"TLS set-up failed, TLS rows will say so: {self.error}")

    def _setup(self, scenarios):
        """Certificate via scripts/dev-certs (EC P-256), the PEM HAProxy wants,
        an OpenSSL config for wrk pinning the protocol version, and the
        no-resumption shim.  Returns an error or None."""
        a, raw = self.bench.args, self.bench.raw
        certs = os.path.join(raw, "certs")
        try:
            out = subprocess.run([os.path.join(REPO_DIR, "scripts", "dev-certs"), certs, TLS_HOST],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"scripts/dev-certs: {e}"
        crt, key = (os.path.join(certs, f"{TLS_HOST}.{x}") for x in ("crt", "key"))
        if out.returncode != 0 or not os.path.exists(crt):
            return f"scripts/dev-certs exit {out.returncode}: {(out.stdout + out.stderr).strip()[-300:]}"
        with open(os.path.join(certs, f"{TLS_HOST}.pem"), "w") as f:
            f.write(open(crt).read() + open(key).read())
        self.certs = certs
        # every wrk (and the probe) offers exactly one protocol version
        v = "TLSv" + a.tls_version
        cnf = os.path.join(raw, "wrk-openssl.cnf")
        with open(cnf, "w") as f:
            f.write("# OPENSSL_CONF for wrk in the TLS scenarios: one protocol version\n"
                    "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                    f"[ssl_sect]\nsystem_default = wrk_tls\n[wrk_tls]\nMinProtocol = {v}\nMaxProtocol = {v}\n")
        env = dict(os.environ, OPENSSL_CONF=cnf)
        env.pop("LD_PRELOAD", None)
        self.wrk_env = {"tls": env}
        if {"tls-handshake", "tls-resume"} & set(scenarios):
            src = os.path.join(raw, "wrk-tls-shim.c")
            so = os.path.join(raw, "wrk-tls-shim.so")
            with open(src, "w") as f:
                f.write(TLS_SHIM_C)
            try:
                out = subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so, src, "-ldl"],
                                     capture_output=True, text=True, timeout=60)
                err = None if out.returncode == 0 else (out.stdout + out.stderr).strip()[-300:]
            except (OSError, subprocess.TimeoutExpired) as e:
                err = str(e)
            if err:
                self.check = {"error": f"cannot build the wrk TLS shim (cc): {err}"}
                return None
            self.wrk_env["tls-resume"] = dict(env, LD_PRELOAD=so)
            self.wrk_env["tls-handshake"] = dict(env, LD_PRELOAD=so, PERF_NORESUME="1")
            n, resumed, err = wrk_resumption_check(certs, self.wrk_env["tls-handshake"])
            self.check = {"handshakes": n, "resumed": resumed, "error": err}
            log(f"wrk full-handshake check: {resumed} of {n} handshakes resumed" + (f" ({err})" if err else ""))
        return None

    def probe(self, target, port):
        """Once per peer, at its first TLS start: what a client negotiates there."""
        if target in self.params:
            return
        version = self.bench.args.tls_version
        self.params[target] = tls_probe(port, version)
        self.params[target]["resumes"] = resumption_probe(port, version)
        log(f"  {target:9s} TLS: {fmt_tls(self.params[target])}")

    def header_lines(self, args, points):
        tls_points = [pt for pt in points if pt[3] in ("tls", "tls-handshake", "tls-resume")]
        if not tls_points:
            return []
        out = [f"- TLS: every proxy uses the certificate `{TLS_HOST}` from scripts/dev-certs (EC P-256) and accepts "
               f"TLS 1.2-1.3; wrk offers only TLS {args.tls_version} (OPENSSL_CONF), sends `127.0.0.1` as the "
               f"SNI name (so every proxy serves its default certificate) and does not verify. What `openssl "
               f"s_client -tls1_{args.tls_version[-1]}` negotiated with each:"]
        out += [f"  - {t}: {fmt_tls(self.params.get(t))}" for t in args.targets if t != "direct"]
        if any(pt[3] == "tls-handshake" for pt in tls_points):
            c = self.check or {}
            out.append(f"- tls-handshake client check: wrk with the no-resumption shim against a Python TLS server "
                       f"(which issues tickets): {c.get('resumed', '?')} of {c.get('handshakes', '?')} handshakes "
                       f"resumed" + (f"; {c['error']}" if c.get("error") else ""))
        return out

    def notes(self):
        out = []
        if self.error:
            out.append(f"- TLS set-up: {md_cell(self.error)}")
        if (self.check or {}).get("error"):
            out.append(f"- tls-handshake client check: {md_cell(self.check['error'])}")
        if (self.check or {}).get("resumed"):
            out.append(f"- tls-handshake client check: wrk resumed {self.check['resumed']} of "
                       f"{self.check['handshakes']} handshakes: the tls-handshake rows are not all full handshakes")
        seen = {fmt_tls({k: v for k, v in p.items() if k not in ("cert", "resumes")})
                for p in self.params.values()}
        if len(seen) > 1:
            out.append(f"- TLS: the proxies negotiated different parameters, see the header: {'; '.join(sorted(seen))}")
        return out

    def json(self):
        return {"tls": self.params, "tls_check": self.check, "tls_version": self.bench.args.tls_version}


def tls_probe(port, version):
    """What a client offering only TLS `version` (like wrk here) negotiates:
    protocol, cipher suite, key exchange group, certificate signature."""
    flag = {"1.2": "-tls1_2", "1.3": "-tls1_3"}[version]
    try:
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", flag],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"openssl s_client: {e}"}
    text = out.stdout + out.stderr
    got = {}
    for key, label in (("version", "Protocol version"), ("cipher", "Ciphersuite"),
                       ("signature", "Signature type"), ("group", "Server Temp Key")):
        m = re.search(rf"^{label}: (.*)$", text, re.M)
        if m:
            got[key] = m.group(1).split(",")[0].strip()
    m = re.search(r"^Peer certificate: (.*)$", text, re.M)
    if m:
        got["cert"] = m.group(1).strip()
    if "version" not in got:
        got["error"] = f"openssl s_client (exit {out.returncode}): {text.strip()[-300:]}"
    return got


def fmt_tls(p):
    if not p:
        return "—"
    if "version" not in p:
        return p.get("error", "?")
    return (f"{p['version']} {p.get('cipher', '?')}, key exchange {p.get('group', '?')}, "
            f"{p.get('signature', '?')} certificate ({p.get('cert', '?')}); resumes a session: "
            f"{p.get('resumes', '?')}")


def resumption_probe(port, version, tries=3):
    """Does the proxy resume a session?  A Python client reads one response (so
    the TLS 1.3 tickets have arrived), then reconnects offering that session.
    Returns 'yes', 'no' or an error."""
    ctx = client_tls_context()
    ctx.minimum_version = ctx.maximum_version = \
        {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    sess, reused = None, 0
    try:
        for i in range(tries):
            raw = socket.create_connection(("127.0.0.1", port), timeout=3)
            t = ctx.wrap_socket(raw, session=sess)
            t.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            while t.recv(65536):
                pass
            reused += i > 0 and t.session_reused
            sess = t.session
            t.close()
    except (OSError, ValueError) as e:
        return f"probe failed: {e}"
    return f"yes ({reused} of {tries - 1})" if reused else "no"


def wrk_resumption_check(certs, env, seconds=1.0):
    """Runs wrk exactly as the tls-handshake scenario does against a small Python
    TLS server and counts resumed handshakes: proves that the client side makes
    full handshakes.  Returns (handshakes, resumed, error)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, f"{TLS_HOST}.crt"), os.path.join(certs, f"{TLS_HOST}.key"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ls.settimeout(0.2)
    port = ls.getsockname()[1]
    counts = {"conns": 0, "resumed": 0}
    stop = []

    def serve():
        while not stop:
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            try:
                c.settimeout(2)
                t = ctx.wrap_socket(c, server_side=True)
                counts["conns"] += 1
                counts["resumed"] += t.session_reused
                t.recv(4096)
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                t.close()
            except OSError:
                c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        out = subprocess.run(["wrk", "-t1", "-c2", f"-d{int(seconds)}s", "-H", "Connection: close",
                              f"https://127.0.0.1:{port}/"], env=env, capture_output=True, text=True,
                             timeout=seconds + 10)
        err = None if out.returncode == 0 else f"wrk exit {out.returncode}: {out.stderr.strip()[-200:]}"
    except (OSError, subprocess.TimeoutExpired) as e:
        err = f"wrk: {e}"
    stop.append(1)
    th.join(3)
    ls.close()
    return counts["conns"], counts["resumed"], err
