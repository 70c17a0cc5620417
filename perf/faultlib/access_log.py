"""The balancer's JSON access log, read back by request id: which backend a request went to,
and when (wall-clock seconds, millisecond resolution).

`time` is when the request's first byte came; the backend was chosen `duration_ms -
upstream_duration_ms` later and the answer ended `duration_ms` after it."""
import datetime
import json
from dataclasses import dataclass


@dataclass
class Entry:
    request_id: str
    status: int
    backend: str            # "127.0.0.1:PORT", or None when no backend was chosen
    arrived: float          # epoch seconds
    dispatched: float       # when the (last) backend was chosen; None without one
    ended: float

    def on_backend_at(self, address, moment, slack=0.002):
        """Whether this request was at `address` (sent, not yet answered) at `moment`."""
        return (self.backend == address and self.dispatched is not None
                and self.dispatched <= moment + slack and self.ended >= moment - slack)


def _epoch(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def read(path):
    """{request_id: Entry} of every complete line in the file (a missing file: {})."""
    entries = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue                       # a line cut by a crash
        arrived = _epoch(j["time"])
        duration = (j.get("duration_ms") or 0.0) / 1000.0
        upstream = j.get("upstream_duration_ms")
        dispatched = arrived + duration - upstream / 1000.0 if upstream is not None else None
        entries[j.get("request_id")] = Entry(j.get("request_id"), j.get("status"),
                                             j.get("backend"), arrived, dispatched,
                                             arrived + duration)
    return entries
