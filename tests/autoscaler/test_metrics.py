"""Where the autoscaler's metric comes from (scripts/autoscale/metrics_text.py, metrics.py):
the Prometheus text format, rates from two scrapes (with a counter reset), the p99 from
histogram bucket increases against a value computed by hand, and the reader asking Prometheus
first and scraping the balancer when Prometheus does not answer."""
import http.server
import json
import math
import socket
import sys
import threading
import unittest
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from autoscale import metrics_text  # noqa: E402
from autoscale.metrics import (MetricReader, histogram_quantile, in_flight_total,  # noqa: E402
                               latency_quantile, per_instance, request_rate, scrape_of)


class TextFormat(unittest.TestCase):
    def test_samples_labels_and_escapes(self):
        text = r'''# HELP balancer_requests_total Requests answered.
# TYPE balancer_requests_total counter
balancer_requests_total{route="0:/api",upstream="products",code="200"} 1027
balancer_requests_total{route="say \"hi\", {x}",upstream="a\\b",code="5\n"} 3 1700000000000
process_start_time_seconds 1.7e+09
empty_labels{} 0
h_bucket{le="+Inf"} +Inf
g{a="1",} NaN
'''
        samples = metrics_text.parse(text)
        self.assertEqual(len(samples), 6)
        self.assertEqual(samples[0].labels, {"route": "0:/api", "upstream": "products",
                                             "code": "200"})
        self.assertEqual(samples[0].value, 1027.0)
        self.assertEqual(samples[1].labels, {"route": 'say "hi", {x}', "upstream": "a\\b",
                                             "code": "5\n"})
        self.assertEqual(samples[1].value, 3.0)  # the timestamp is not the value
        self.assertEqual((samples[2].name, samples[2].labels, samples[2].value),
                         ("process_start_time_seconds", {}, 1.7e9))
        self.assertEqual(samples[3].labels, {})
        self.assertTrue(math.isinf(samples[4].value))
        self.assertEqual(samples[5].labels, {"a": "1"})
        self.assertTrue(math.isnan(samples[5].value))

    def test_malformed_lines_name_the_line(self):
        for text in ('ok 1\nbad{a="1" 2\n', 'ok 1\nbad{a=1} 2\n', "ok 1\nbad\n",
                     'ok 1\nbad{a="\\x"} 1\n', "ok 1\nbad 1 2 3\n", "ok 1\nbad one\n"):
            with self.subTest(text):
                with self.assertRaises(metrics_text.FormatError) as caught:
                    metrics_text.parse(text)
                self.assertIn("line 2", str(caught.exception))


def page(requests=(), buckets=(), in_flight=()):
    """A /metrics page: requests [(route, upstream, code, n)], buckets [(route, upstream,
    [(le, cumulative)])], in_flight [(upstream, backend, n)]."""
    lines = [f'balancer_requests_total{{route="{r}",upstream="{u}",code="{c}"}} {n}'
             for r, u, c, n in requests]
    for r, u, bs in buckets:
        lines += [f'balancer_request_duration_seconds_bucket{{route="{r}",upstream="{u}",'
                  f'le="{le}"}} {n}' for le, n in bs]
    lines += [f'balancer_upstream_in_flight{{upstream="{u}",backend="{b}"}} {n}'
              for u, b, n in in_flight]
    return "\n".join(lines) + "\n"


class FromScrapes(unittest.TestCase):
    def test_in_flight_is_the_sum_over_backends_now(self):
        s = scrape_of(page(in_flight=[("products", "a:1", 3), ("products", "a:2", 4),
                                      ("orders", "a:3", 9)]), 0)
        self.assertEqual(in_flight_total(s, "products"), 7)
        self.assertIsNone(in_flight_total(s, "users"))

    def test_rate_from_two_scrapes(self):
        before = scrape_of(page([("r1", "products", 200, 100), ("r2", "products", 200, 50),
                                 ("r1", "orders", 200, 7)]), 10.0)
        after = scrape_of(page([("r1", "products", 200, 160), ("r2", "products", 200, 70),
                                ("r1", "products", 502, 4), ("r1", "orders", 200, 99)]), 12.0)
        # (60 + 20 + 4 new from 0) over 2 s
        self.assertAlmostEqual(request_rate(before, after, "products"), 42.0)
        self.assertIsNone(request_rate(None, after, "products"))

    def test_counter_reset_counts_from_zero(self):
        before = scrape_of(page([("r1", "products", 200, 1000)]), 0.0)
        after = scrape_of(page([("r1", "products", 200, 30)]), 3.0)  # the balancer restarted
        self.assertAlmostEqual(request_rate(before, after, "products"), 10.0)

    def test_p99_interpolates_within_the_bucket(self):
        bounds = ["0.01", "0.025", "0.05", "0.1", "+Inf"]
        before = scrape_of(page(buckets=[
            ("r1", "products", list(zip(bounds, [10, 10, 10, 10, 10]))),
            ("r2", "products", list(zip(bounds, [0, 0, 0, 0, 0]))),
        ]), 0.0)
        after = scrape_of(page(buckets=[
            ("r1", "products", list(zip(bounds, [35, 55, 59, 60, 60]))),  # +25 +45 +49 +50
            ("r2", "products", list(zip(bounds, [25, 45, 49, 50, 50]))),
        ]), 1.0)
        # Summed increases: 50 <= 10 ms, 90 <= 25 ms, 98 <= 50 ms, 100 <= 100 ms. Rank
        # 0.99 x 100 = 99 falls in (50 ms, 100 ms], 1 of its 2 observations in: 75 ms.
        self.assertAlmostEqual(latency_quantile(before, after, "products"), 0.075)
        # The median: rank 50 is the last of the first bucket's 50: its upper bound.
        self.assertAlmostEqual(latency_quantile(before, after, "products", q=0.5), 0.01)
        self.assertIsNone(latency_quantile(None, after, "products"))

    def test_histogram_quantile_edges(self):
        inf = float("inf")
        self.assertIsNone(histogram_quantile(0.99, [(0.1, 0), (inf, 0)]))  # no observation
        self.assertEqual(histogram_quantile(0.99, [(0.1, 1), (inf, 10)]), 0.1)  # in +Inf
        self.assertAlmostEqual(histogram_quantile(0.5, [(1.0, 4), (2.0, 8), (inf, 8)]), 1.0)
        self.assertAlmostEqual(histogram_quantile(0.25, [(1.0, 4), (2.0, 8), (inf, 8)]), 0.5)
        self.assertIsNone(histogram_quantile(0.5, [(1.0, 4)]))  # no +Inf bucket

    def test_per_instance(self):
        self.assertEqual(per_instance("in_flight", 12, 3), 4)
        self.assertEqual(per_instance("requests_per_second", 300, 2), 150)
        self.assertEqual(per_instance("p99_latency", 0.2, 4), 0.2)
        self.assertIsNone(per_instance("in_flight", None, 3))


class FakePrometheus:
    """Answers /api/v1/query with a vector of one sample of `value`, recording the queries."""

    def __init__(self, value):
        self.queries = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["query"][0]
                outer.queries.append(query)
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {"upstream": "products"}, "value": [1.0, str(value)]}]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reader(unittest.TestCase):
    def test_prometheus_first(self):
        prometheus = FakePrometheus(123.5)
        try:
            reader = MetricReader("requests_per_second", "products", prometheus.url,
                                  lambda: self.fail("scraped although Prometheus answered"))
            reading = reader.read()
        finally:
            prometheus.close()
        self.assertEqual((reading.total, reading.source), (123.5, "prometheus"))
        self.assertEqual(prometheus.queries,
                         ['upstream:balancer_requests:rate30s{upstream="products"}'])

    def test_scrape_when_prometheus_does_not_answer(self):
        pages = iter([page([("r", "products", 200, 10)]), page([("r", "products", 200, 40)])])
        times = iter([100.0, 115.0])
        reader = MetricReader("requests_per_second", "products",
                              f"http://127.0.0.1:{closed_port()}", lambda: next(pages),
                              clock=lambda: next(times))
        first = reader.read()
        self.assertEqual((first.total, first.source, first.first_scrape), (None, "scrape", True))
        second = reader.read()
        self.assertEqual((second.total, second.source), (2.0, "scrape"))

    def test_in_flight_needs_one_scrape(self):
        reader = MetricReader("in_flight", "products", None,
                              lambda: page(in_flight=[("products", "a:1", 5)]))
        self.assertEqual(reader.read().total, 5)

    def test_failed_scrape_is_a_missing_metric(self):
        def refuse():
            raise OSError("connection refused")
        reading = MetricReader("in_flight", "products", None, refuse).read()
        self.assertIsNone(reading.total)
        self.assertIn("scrape failed", reading.note)


if __name__ == "__main__":
    unittest.main(verbosity=2)
