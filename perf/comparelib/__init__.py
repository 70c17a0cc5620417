"""perf/compare's package: the balancer against HAProxy and nginx, same origin, same load.

One module per part of a run: `origin` (the nginx every proxy forwards to), `peers` (HAProxy,
nginx and the balancer: their configs and processes), `load` (wrk), `measure` (CPU and memory
from /proc), `bench` (one point: start, warm up, measure, stop), `report` (Markdown and JSON)
and `cli` (the command's flags). Each scenario is one file in `scenarios/` that registers
itself; see scenarios/__init__.py for how to add one. Python 3 standard library only."""
import os
import sys

PERF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(PERF_DIR)
CONF_DIR = os.path.join(PERF_DIR, "configs")
WRK_DIR = os.path.join(PERF_DIR, "wrk")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def md_cell(text):
    """Text for one Markdown list item or table cell."""
    return str(text).replace("\n", " ⏎ ")
