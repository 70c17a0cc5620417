"""Where a service's metric comes from: Prometheus's HTTP API (the recording rules of
config/prometheus-rules.yml) when it answers, else the balancer's own /metrics, scraped once per
sync period, with rates and the p99 computed from the last two scrapes as Prometheus's rate()
and histogram_quantile() would.

Every value here is per upstream (a sum over its backends, or its p99); per_instance() turns it
into the per-instance value the decision compares with the target."""
import json
import math
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass

from . import metrics_text
from .urls import urlopen

RULES = {
    "in_flight": "upstream:balancer_upstream_in_flight:sum",
    "requests_per_second": "upstream:balancer_requests:rate30s",
    "p99_latency": "upstream:balancer_request_duration_seconds:p99_30s",
}
RATE_BASED = ("requests_per_second", "p99_latency")


# --- from two scrapes of the balancer ---------------------------------------------------------

@dataclass(frozen=True)
class Scrape:
    at: float       # time.monotonic() when taken
    samples: list   # metrics_text.Sample


def scrape_of(text, at):
    return Scrape(at, metrics_text.parse(text))


def _series(scrape, name, upstream):
    """{label items: value} of the samples NAME{upstream=UPSTREAM,...}."""
    return {tuple(sorted(s.labels.items())): s.value for s in scrape.samples
            if s.name == name and s.labels.get("upstream") == upstream}


def counter_increase(before, now):
    """How much a counter grew: its difference, or all of `now` when it went down (the
    process restarted and counts from 0 again) or did not exist before. The balancer writes a
    counter series only once it is above 0, so a new series grew from 0 since the last scrape."""
    if before is None or now < before:
        return now
    return now - before


def _increases(prev, cur, name, upstream):
    before = _series(prev, name, upstream)
    return {key: counter_increase(before.get(key), value)
            for key, value in _series(cur, name, upstream).items()}


def in_flight_total(scrape, upstream):
    """Requests in flight to the upstream's backends now; None when it has no backend series."""
    values = _series(scrape, "balancer_upstream_in_flight", upstream).values()
    return sum(values) if values else None


def request_rate(prev, cur, upstream):
    """Requests answered per second between two scrapes (every route and code of the
    upstream); None without a previous scrape."""
    if prev is None or cur.at <= prev.at:
        return None
    increases = _increases(prev, cur, "balancer_requests_total", upstream)
    return sum(increases.values()) / (cur.at - prev.at)


def latency_quantile(prev, cur, upstream, q=0.99):
    """The q-quantile (seconds) of the request durations observed between two scrapes, from
    the histogram's bucket increases summed over routes; None without a previous scrape or
    without a request in between."""
    if prev is None:
        return None
    by_bound = {}
    for key, increase in _increases(prev, cur, "balancer_request_duration_seconds_bucket",
                                    upstream).items():
        le = float(dict(key)["le"])
        by_bound[le] = by_bound.get(le, 0.0) + increase
    return histogram_quantile(q, sorted(by_bound.items()))


def histogram_quantile(q, buckets):
    """The q-quantile of cumulative `buckets` [(upper bound, count)] sorted by bound, the last
    +Inf, interpolated linearly within its bucket as Prometheus's histogram_quantile() does.
    None when there is no observation (Prometheus: NaN)."""
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return None
    counts, highest = [], 0.0
    for _, count in buckets:          # cumulative counts can only grow
        highest = max(highest, count)
        counts.append(highest)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    b = next(i for i, count in enumerate(counts) if count >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]         # in the +Inf bucket: the highest finite bound
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], counts[b]
    if b > 0:
        start = buckets[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


# --- from Prometheus --------------------------------------------------------------------------

class PrometheusUnavailable(Exception):
    """Prometheus did not answer the query (not running, or an error)."""


def query_prometheus(base_url, promql, timeout=2.0):
    """The value of the first sample of an instant query; None when the result is empty or
    NaN; raises PrometheusUnavailable when Prometheus does not answer properly."""
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urlopen(url, timeout) as response:
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise PrometheusUnavailable(str(getattr(e, "reason", e))) from None
    if body.get("status") != "success":
        raise PrometheusUnavailable(body.get("error", "query failed"))
    result = body.get("data", {}).get("result", [])
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


# --- one service's reader ---------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    total: float | None   # per upstream: in-flight sum, requests/s, p99 seconds; None: missing
    source: str           # "prometheus" or "scrape"
    note: str = ""        # why it is missing

    @property
    def first_scrape(self):
        return self.note == "first scrape"


def per_instance(metric, total, ready):
    """The value compared with the per-instance target: sums shared among the ready
    instances; the p99 as it is."""
    if total is None or metric == "p99_latency" or ready == 0:
        return total
    return total / ready


class MetricReader:
    """The metric of one service, read once per sync period. `fetch_metrics` returns the
    balancer's /metrics text; `prometheus` is a base URL or None (never asked)."""

    def __init__(self, metric, upstream, prometheus, fetch_metrics, clock=time.monotonic):
        self.metric = metric
        self.upstream = upstream
        self.prometheus = prometheus
        self.fetch_metrics = fetch_metrics
        self.clock = clock
        self.previous = None  # the last Scrape

    def read(self):
        if self.prometheus:
            query = f'{RULES[self.metric]}{{upstream="{self.upstream}"}}'
            try:
                value = query_prometheus(self.prometheus, query)
                return Reading(value, "prometheus", "" if value is not None else "no sample")
            except PrometheusUnavailable:
                pass  # scrape the balancer instead
        return self._scrape()

    def _scrape(self):
        try:
            current = scrape_of(self.fetch_metrics(), self.clock())
        except (OSError, metrics_text.FormatError) as e:
            return Reading(None, "scrape", f"scrape failed: {e}")
        previous, self.previous = self.previous, current
        if self.metric == "in_flight":
            value = in_flight_total(current, self.upstream)
        elif previous is None:
            return Reading(None, "scrape", "first scrape")
        elif self.metric == "requests_per_second":
            value = request_rate(previous, current, self.upstream)
        else:
            value = latency_quantile(previous, current, self.upstream)
        return Reading(value, "scrape", "" if value is not None else "no sample")
