// balancer/reload with balancer/metrics: after a reload the registry sums the blocks of every
// snapshot by label, so a route that stays is one series whose count goes on, a removed
// route's count stays, and reloads are counted.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "balancer/config.h"
#include "balancer/metrics/registry.h"
#include "balancer/metrics/worker_metrics.h"
#include "balancer/snapshot.h"

namespace balancer {
namespace {

std::unique_ptr<Snapshot> snapshotOf(const std::string& routes) {
  ConfigResult r = loadConfigString(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7101 }]
routes:
)" + routes);
  REQUIRE(r.config);
  return std::make_unique<Snapshot>(std::move(*r.config));
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("MetricsRegistry merges the series of the snapshots before and after a reload") {
  auto before = snapshotOf("  - { match: { path_prefix: /api }, upstream: app }\n");
  auto after = snapshotOf(
      "  - { match: { path_prefix: /api }, upstream: app }\n"
      "  - { match: { path_prefix: /extra }, upstream: app }\n");
  MetricsRegistry registry(before.get());
  auto old_block = std::make_shared<WorkerMetrics>(before->config());
  registry.addWorker(old_block);
  old_block->countRequest(0, 200, 1000);
  old_block->countRequest(0, 200, 1000);
  old_block->client_connections.add(2);
  old_block->listener(0).bytes_in.add(10);

  auto new_block = std::make_shared<WorkerMetrics>(after->config());
  registry.addSnapshot(after.get(), {new_block});
  registry.countReload(true);
  registry.countReload(false);
  new_block->countRequest(0, 200, 1000);
  new_block->countRequest(1, 200, 1000);
  new_block->client_connections.add(-1);  // a session of the old block closed
  new_block->listener(0).bytes_in.add(5);

  std::string text = registry.render();
  INFO(text);
  CHECK(count(text, "balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"200\"}") ==
        1);
  CHECK(text.find("balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"200\"} 3\n") !=
        std::string::npos);
  CHECK(text.find(
            "balancer_requests_total{route=\"1:/extra\",upstream=\"app\",code=\"200\"} 1\n") !=
        std::string::npos);
  CHECK(count(text, "balancer_request_duration_seconds_count{route=\"0:/api\"") == 1);
  CHECK(text.find("balancer_client_connections 1\n") != std::string::npos);
  CHECK(text.find("balancer_received_bytes_total{listener=\"public\"} 15\n") != std::string::npos);
  CHECK(text.find("balancer_config_reloads_total{result=\"success\"} 1\n") != std::string::npos);
  CHECK(text.find("balancer_config_reloads_total{result=\"failure\"} 1\n") != std::string::npos);
  CHECK(text.find("balancer_config_last_reload_success_timestamp_seconds ") != std::string::npos);

  // A reload that keeps the shape adds no block: the series stay single.
  auto same = snapshotOf(
      "  - { match: { path_prefix: /api }, upstream: app }\n"
      "  - { match: { path_prefix: /extra }, upstream: app }\n");
  registry.addSnapshot(same.get(), {});
  text = registry.render();
  CHECK(count(text, "balancer_rate_limited_total{route=\"1:/extra\"}") == 1);
}

TEST_CASE("MetricsRegistry keeps the counts of a snapshot freed after a reload") {
  auto before = snapshotOf("  - { match: { path_prefix: /api }, upstream: app }\n");
  MetricsRegistry registry(before.get());
  auto old_block = std::make_shared<WorkerMetrics>(before->config());
  registry.addWorker(old_block);
  old_block->countRequest(0, 200, 1000);
  old_block->client_connections.add(1);

  auto after = snapshotOf(
      "  - { match: { path_prefix: /api }, upstream: app }\n"
      "  - { match: { path_prefix: /extra }, upstream: app }\n");
  auto new_block = std::make_shared<WorkerMetrics>(after->config());
  registry.addSnapshot(after.get(), {new_block});
  // The worker lets go of the old block and the old snapshot is freed; the next reload folds
  // the block's counts into the registry's.
  old_block.reset();
  before.reset();
  auto again = snapshotOf("  - { match: { path_prefix: /api }, upstream: app }\n");
  auto again_block = std::make_shared<WorkerMetrics>(again->config());
  registry.addSnapshot(again.get(), {again_block});
  new_block->countRequest(1, 200, 1000);
  again_block->countRequest(0, 200, 1000);
  again_block->client_connections.add(-1);  // the old block's session closed

  std::string text = registry.render();
  INFO(text);
  CHECK(count(text, "balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"200\"}") ==
        1);
  CHECK(text.find("balancer_requests_total{route=\"0:/api\",upstream=\"app\",code=\"200\"} 2\n") !=
        std::string::npos);
  CHECK(text.find(
            "balancer_requests_total{route=\"1:/extra\",upstream=\"app\",code=\"200\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("balancer_client_connections 0\n") != std::string::npos);
}

}  // namespace balancer
