#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "balancer/metrics/worker_metrics.h"

namespace balancer {

class AccessLog;
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

  // Adds a worker's block (shared, so a scrape during shutdown reads live memory).
  void addWorker(std::shared_ptr<const WorkerMetrics> block);
  // The access log whose dropped-line count is shown; may be null.
  void setAccessLog(const AccessLog* log) { access_log_ = log; }

  // The Prometheus text exposition (version 0.0.4) of every metric.
  std::string render() const;

 private:
  const Snapshot* snapshot_;
  const AccessLog* access_log_ = nullptr;
  std::vector<std::string> route_labels_;
  mutable std::mutex mutex_;  // guards workers_ (added at start, read by scrapes)
  std::vector<std::shared_ptr<const WorkerMetrics>> workers_;
};

}  // namespace balancer
