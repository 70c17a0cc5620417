#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "balancer/metrics/worker_metrics.h"

namespace balancer {

class AccessLog;
namespace jwks {
struct JwksStats;
}  // namespace jwks
class DnsDiscovery;
class Snapshot;
struct RouteConfig;

// The route label of balancer_* metrics and access log lines: routes have no names in the
// configuration, so the label is the route's position and what it matches, e.g.
// "0:/api/products" or "2:shop.example.com/api". Stable as long as the routes list is.
std::string routeLabel(const RouteConfig& route, size_t index);
void appendRouteLabel(std::string* out, const RouteConfig& route, size_t index);

// Everything /metrics shows. Owned by the Server; each worker's counter block is registered
// once, and render() sums the blocks at scrape time. Safe to call from any thread (the admin
// server's): it only reads atomics, the immutable snapshot and /proc.
class MetricsRegistry {
 public:
  explicit MetricsRegistry(const Snapshot* snapshot);
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Adds a worker's block (shared, so a scrape during shutdown reads live memory), sized for
  // the latest snapshot given.
  void addWorker(std::shared_ptr<const WorkerMetrics> block);
  // SIGHUP: `snapshot` is current now; `blocks` (one per worker) are sized for it, or empty
  // when the blocks in use still fit (same routes, upstreams and listeners). Series of every
  // snapshot are summed by their labels, so counters continue across reloads.
  void addSnapshot(const Snapshot* snapshot,
                   std::vector<std::shared_ptr<const WorkerMetrics>> blocks);
  // Counts a reload (balancer_config_reloads_total) and, on success, its time.
  void countReload(bool ok);
  // The access log whose dropped-line count is shown; may be null.
  void setAccessLog(const AccessLog* log) { access_log_ = log; }
  // Shows balancer_jwks_* from these counts (set when jwt.jwks_url is configured).
  void setJwksStats(const jwks::JwksStats* stats) { jwks_stats_.store(stats); }
  // The DNS discovery whose lookups are shown; may be null. Its series are rendered only on
  // the main loop's thread (the admin server's), where it runs.
  void setDnsDiscovery(const DnsDiscovery* discovery) { discovery_ = discovery; }

  // The Prometheus text exposition (version 0.0.4) of every metric.
  std::string render() const;

 private:
  // The blocks sized for one snapshot, and the labels of their series (copied: the snapshot
  // may be freed before its blocks are).
  struct Group {
    std::vector<std::string> route_labels;     // by route index
    std::vector<std::string> route_upstreams;  // the upstream of each route, by name
    std::vector<bool> route_cached;            // the route has a `cache:`
    std::vector<std::string> upstreams;        // by upstream index
    struct Listener {
      std::string name;
      bool tls;
      bool proxy_protocol;
    };
    std::vector<Listener> listeners;  // by listener index
    std::vector<std::shared_ptr<const WorkerMetrics>> workers;
  };
  // Counters summed by label.
  struct RouteTotals {
    std::array<uint64_t, kStatusSlots> codes{};
    std::array<uint64_t, kDurationBounds.size() + 1> buckets{};
    uint64_t duration_sum_ns = 0;
    uint64_t rate_limited = 0;
    uint64_t limit_unavailable = 0;
    uint64_t headers_dropped = 0;
    std::array<uint64_t, kJwtReasons.size()> jwt{};
    std::array<uint64_t, compression::kEncodingCount> compress_in{};
    std::array<uint64_t, compression::kEncodingCount> compress_out{};
    std::array<uint64_t, kCacheResultLabels.size()> cache{};
    bool cached = false;      // a route with a `cache:` in some snapshot
    bool configured = false;  // a route of some snapshot (not the unmatched slot)
  };
  struct UpstreamTotals {
    uint64_t connect_errors = 0, retries = 0, fresh = 0, reused = 0;
  };
  struct ListenerTotals {
    uint64_t accepted = 0, bytes_in = 0, bytes_out = 0;
    uint64_t tls_12 = 0, tls_13 = 0, tls_other = 0, tls_failed = 0;
    uint64_t proxy_invalid = 0, proxy_timeout = 0;
    bool tls = false;
    bool proxy_protocol = false;
  };
  struct Totals {
    std::map<std::pair<std::string, std::string>, RouteTotals> routes;  // route, upstream
    std::map<std::string, UpstreamTotals> upstreams;
    std::map<std::string, ListenerTotals> listeners;
    int64_t connections = 0;
  };
  static Group labelsOf(const Snapshot& snapshot);
  static void addGroup(const Group& group, Totals* totals);

  const AccessLog* access_log_ = nullptr;
  std::atomic<const jwks::JwksStats*> jwks_stats_{nullptr};
  const DnsDiscovery* discovery_ = nullptr;
  mutable std::mutex mutex_;  // guards groups_, retired_ and current_ (changed on reload)
  std::vector<Group> groups_;
  Totals retired_;  // the counts of groups no worker writes to any more
  const Snapshot* current_;
  std::atomic<uint64_t> reloads_ok_{0};
  std::atomic<uint64_t> reloads_failed_{0};
  std::atomic<int64_t> last_reload_ok_s_{0};
};

}  // namespace balancer
