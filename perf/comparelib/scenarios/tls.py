"""tls: HTTPS keep-alive, TLS terminated by each proxy with the same certificate, plain HTTP
to the origin (so no direct row)."""
from ..scenario import PeerConfig, Scenario
from ..tls import ARGUMENTS, TlsMaterial, fragments
from . import register


class TlsScenario(Scenario):
    """What the TLS scenarios share: the certificate in each peer's config, wrk's TLS
    environment (one protocol version; the shim in the handshake scenarios), the probes."""
    tls = True
    tools = ("openssl",)
    arguments = ARGUMENTS
    fixtures = (TlsMaterial,)

    def unavailable(self, bench, run):
        return None if bench.fixture(TlsMaterial).certs else "no TLS certificate (see above)"

    def config(self, bench, run, base):
        return PeerConfig(values=fragments(run.peer, bench.fixture(TlsMaterial).certs))

    def after_start(self, bench, run, port):
        bench.fixture(TlsMaterial).probe(run.name, port)

    def load(self, bench, run, path, warmup):
        spec = super().load(bench, run, path, warmup)
        material = bench.fixture(TlsMaterial)
        spec.env = material.wrk_env.get(self.name)
        if spec.env is None:
            spec.error = (f"no wrk set-up for {self.name}: "
                          f"{(material.check or {}).get('error') or 'see above'}")
        return spec


@register
class Tls(TlsScenario):
    name = "tls"
    description = "HTTPS keep-alive (TLS terminated by the proxy)"
    order = 30
    quick = True
    points = ("1:64:/", "1:1000:/", "2:64:/", "2:1000:/")
    quick_points = ("1:1000:/",)
