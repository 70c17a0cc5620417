"""tls-resume: one resumed TLS handshake per request (wrk offers the previous connection's
session; the shim counts how many each proxy resumed). Only when named by --scenarios."""
from . import register
from .tls import TlsScenario


@register
class TlsResume(TlsScenario):
    name = "tls-resume"
    description = "one resumed TLS handshake per request"
    order = 50
    default = False
    close = True
    table = "handshake"
    points = ("1:64:/", "2:64:/")
    quick_points = ("1:64:/",)
