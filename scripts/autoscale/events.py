"""What the autoscaler tells: one JSON object per line on stdout (decisions, instances started,
registered, drained, stopped, errors), so that a person can read it and a test can parse it."""
import json
import sys
import threading
import time

_lock = threading.Lock()  # one thread per service: lines must not interleave


def emit(event, **fields):
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    line = json.dumps({"time": stamp, "event": event, **fields}, separators=(", ", ": "))
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
