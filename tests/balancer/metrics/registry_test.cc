// balancer/metrics: per-worker counters summed by MetricsRegistry into the Prometheus text.
#include <catch2/catch.hpp>

#include <openssl/ssl.h>

#include <cstdio>
#include <memory>
#include <string>

#include "balancer/config.h"
#include "balancer/metrics/registry.h"
#include "balancer/metrics/worker_metrics.h"
#include "balancer/snapshot.h"

namespace balancer {
namespace {

constexpr const char* kConfig = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
  - { name: secure, address: 127.0.0.1:0, tls: { certificates: [] } }
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7101 }, { address: 127.0.0.1:7102 }]
    health_check: { path: /health }
routes:
  - match: { path_prefix: /api }
    upstream: app
  - match: { host: shop.test, path: /exact }
    upstream: app
)";

std::unique_ptr<Snapshot> snapshot() {
  ConfigResult r = loadConfigString(kConfig);
  if (!r.config) {
    // The TLS listener without certificates may be refused; retry with a plain one.
    std::string text = kConfig;
    text.replace(text.find(", tls: { certificates: [] }"), 27, "");
    r = loadConfigString(text);
  }
  REQUIRE(r.config);
  return std::make_unique<Snapshot>(std::move(*r.config));
}

bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("routeLabel: index and what the route matches") {
  RouteConfig prefix;
  prefix.path_prefix = "/api";
  CHECK(routeLabel(prefix, 0) == "0:/api");
  RouteConfig exact;
  exact.host = "shop.test";
  exact.path = "/exact";
  CHECK(routeLabel(exact, 3) == "3:shop.test/exact");
  CHECK(routeLabel(RouteConfig{}, 1) == "1:*");
}

TEST_CASE("MetricsRegistry sums the workers' counters at scrape time") {
  auto snap = snapshot();
  MetricsRegistry registry(snap.get());
  auto w1 = std::make_shared<WorkerMetrics>(snap->config());
  auto w2 = std::make_shared<WorkerMetrics>(snap->config());
  registry.addWorker(w1);
  registry.addWorker(w2);

  w1->countRequest(0, 200, 50'000);         // 50 us: first bucket
  w2->countRequest(0, 200, 2'000'000);      // 2 ms: le=0.0025
  w2->countRequest(0, 200, 20'000'000'000); // 20 s: only +Inf
  w1->countRequest(0, 502, 300'000);
  w1->countRequest(-1, 404, 10'000);        // no route
  w2->countRateLimited(1);
  w2->countRateLimited(1);
  w1->countJwtRejection(0, "expired");
  w2->countJwtRejection(0, "missing");
  w2->countJwtRejection(0, "something new");
  w1->countCompressed(0, compression::Encoding::kGzip, 1000, 200);
  w2->countCompressed(0, compression::Encoding::kGzip, 500, 100);
  w2->countCompressed(1, compression::Encoding::kZstd, 10, 20);
  w1->client_connections.add(3);
  w2->client_connections.add(2);
  w2->client_connections.add(-1);
  w1->upstream(0).connect_errors.add();
  w2->upstream(0).retries.add(2);
  w1->upstream(0).connections_new.add(4);
  w2->upstream(0).connections_reused.add(6);
  w1->listener(0).bytes_in.add(100);
  w2->listener(0).bytes_in.add(23);
  w1->listener(0).bytes_out.add(1000);
  w1->countTlsHandshake(1, TLS1_3_VERSION);
  w2->countTlsHandshake(1, 0);
  snap->upstreams()[0]->backends()->backends[0]->in_flight.store(7);
  snap->upstreams()[0]->backends()->backends[1]->healthy.store(false);
  snap->upstreams()[0]->backends()->backends[0]->health_checks_ok.add(5);

  std::string text = registry.render();
  INFO(text);
  CHECK(contains(text, "# TYPE balancer_requests_total counter\n"));
  CHECK(contains(text, "balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"200\"} 3\n"));
  CHECK(contains(text, "balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"502\"} 1\n"));
  CHECK(contains(text,
                 "balancer_requests_total{route=\"unmatched\",upstream=\"none\",code=\"404\"} 1\n"));
  CHECK_FALSE(contains(text, "code=\"201\""));  // zero series are left out

  CHECK(contains(text, "# TYPE balancer_request_duration_seconds histogram\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_bucket{route=\"0:/api\",upstream=\"app\","
                       "le=\"0.0001\"} 1\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_bucket{route=\"0:/api\",upstream=\"app\","
                       "le=\"0.001\"} 2\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_bucket{route=\"0:/api\",upstream=\"app\","
                       "le=\"0.0025\"} 3\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_bucket{route=\"0:/api\",upstream=\"app\","
                       "le=\"10\"} 3\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_bucket{route=\"0:/api\",upstream=\"app\","
                       "le=\"+Inf\"} 4\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_count{route=\"0:/api\",upstream=\"app\"} 4\n"));
  CHECK(contains(text, "balancer_request_duration_seconds_sum{route=\"0:/api\",upstream=\"app\"} 20.00235\n"));

  CHECK(contains(text, "balancer_rate_limited_total{route=\"1:shop.test/exact\"} 2\n"));
  CHECK(contains(text, "balancer_rate_limited_total{route=\"0:/api\"} 0\n"));
  CHECK(contains(text, "balancer_jwt_rejected_total{route=\"0:/api\",reason=\"expired\"} 1\n"));
  CHECK(contains(text, "balancer_jwt_rejected_total{route=\"0:/api\",reason=\"missing\"} 1\n"));
  CHECK(contains(text, "balancer_jwt_rejected_total{route=\"0:/api\",reason=\"other\"} 1\n"));
  CHECK(contains(text, "balancer_client_connections 4\n"));
  CHECK(contains(text, "# TYPE balancer_compress_input_bytes_total counter\n"));
  CHECK(contains(text, "balancer_compress_input_bytes_total{route=\"0:/api\",encoding=\"gzip\"} 1500\n"));
  CHECK(contains(text, "balancer_compress_output_bytes_total{route=\"0:/api\",encoding=\"gzip\"} 300\n"));
  CHECK(contains(text, "balancer_compress_input_bytes_total{route=\"1:shop.test/exact\",encoding=\"zstd\"} 10\n"));
  CHECK(contains(text, "balancer_compress_output_bytes_total{route=\"1:shop.test/exact\",encoding=\"zstd\"} 20\n"));
  CHECK_FALSE(contains(text, "encoding=\"br\""));  // nothing compressed: no series

  CHECK(contains(text, "balancer_upstream_connect_errors_total{upstream=\"app\"} 1\n"));
  CHECK(contains(text, "balancer_upstream_retries_total{upstream=\"app\"} 2\n"));
  CHECK(contains(text, "balancer_upstream_connections_total{upstream=\"app\",state=\"new\"} 4\n"));
  CHECK(contains(text, "balancer_upstream_connections_total{upstream=\"app\",state=\"reused\"} 6\n"));
  CHECK(contains(text, "balancer_received_bytes_total{listener=\"public\"} 123\n"));
  CHECK(contains(text, "balancer_sent_bytes_total{listener=\"public\"} 1000\n"));

  CHECK(contains(text, "balancer_upstream_in_flight{upstream=\"app\",backend=\"127.0.0.1:7101\"} 7\n"));
  CHECK(contains(text, "balancer_upstream_backend_up{upstream=\"app\",backend=\"127.0.0.1:7101\"} 1\n"));
  CHECK(contains(text, "balancer_upstream_backend_up{upstream=\"app\",backend=\"127.0.0.1:7102\"} 0\n"));
  CHECK(contains(text, "balancer_health_checks_total{upstream=\"app\",backend=\"127.0.0.1:7101\","
                       "result=\"success\"} 5\n"));

  CHECK(contains(text, "# TYPE process_cpu_seconds_total counter\n"));
  CHECK(contains(text, "# TYPE process_resident_memory_bytes gauge\n"));
  CHECK(contains(text, "# TYPE process_open_fds gauge\n"));
  CHECK(contains(text, "# TYPE process_start_time_seconds gauge\n"));

  if (snap->config().listeners[1].tls) {
    CHECK(contains(text, "balancer_tls_handshakes_total{listener=\"secure\",result=\"success\","
                         "version=\"TLSv1.3\"} 1\n"));
    CHECK(contains(text, "balancer_tls_handshakes_total{listener=\"secure\",result=\"failure\","
                         "version=\"none\"} 1\n"));
  }

  // Every family once, every sample line under its family: what promtool insists on.
  CHECK(text.back() == '\n');
}

TEST_CASE("WorkerMetrics blocks do not share cache lines") {
  CHECK(alignof(WorkerMetrics) >= 64);
  CHECK(alignof(WorkerMetrics::Route) >= 64);
  CHECK(alignof(WorkerMetrics::Upstream) >= 64);
  CHECK(alignof(WorkerMetrics::Listener) >= 64);
}

}  // namespace balancer
