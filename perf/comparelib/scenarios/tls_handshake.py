"""tls-handshake: one full TLS handshake per request ("Connection: close"; the wrk shim drops
the session wrk would offer, and counts resumed handshakes, which must be none)."""
from . import register
from .tls import TlsScenario


@register
class TlsHandshake(TlsScenario):
    name = "tls-handshake"
    description = "one full TLS handshake per request"
    order = 40
    quick = True
    close = True
    table = "handshake"
    points = ("1:64:/", "2:64:/")
    quick_points = ("1:64:/",)
