"""close: plain HTTP with "Connection: close", so every request is a new client connection
(the proxies keep their upstream pools; direct opens one to the origin per request)."""
from ..scenario import Scenario
from . import register


@register
class Close(Scenario):
    name = "close"
    description = "a new client connection per request (Connection: close)"
    order = 20
    quick = True
    close = True
    points = ("1:64:/", "1:1000:/")
    quick_points = ("1:64:/",)
