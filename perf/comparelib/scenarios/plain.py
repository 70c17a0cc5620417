"""plain: HTTP/1.1 keep-alive, the same load straight at the origin ("direct") and through
each proxy; 27-byte and 64 KiB responses, 64 to 10,000 connections."""
from ..scenario import Scenario
from . import register


@register
class Plain(Scenario):
    name = "plain"
    description = "HTTP/1.1 keep-alive"
    order = 10
    quick = True
    points = ("1:64:/", "1:64:/64k", "1:1000:/", "1:1000:/64k",
              "2:64:/", "2:64:/64k", "2:1000:/", "2:1000:/64k", "2:10000:/")
    quick_points = ("1:64:/", "1:1000:/64k", "2:1000:/", "2:10000:/")
