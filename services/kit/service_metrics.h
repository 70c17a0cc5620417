#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/metrics/exposition.h"

namespace kit {

class PgPool;

// The metrics every service exports at /metrics: requests by route, method and code, latency
// histograms by route, in-flight requests, the database pool (busy, waits, wait time, up),
// Redis up, and the process (CPU, memory, open files). A service adds its own with
// addCollector(). One loop thread per service: plain counters, no atomics.
class ServiceMetrics {
 public:
  // Latency buckets from 1 ms to 10 s: a service's own work, database included.
  static constexpr std::array<double, 14> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   5,
                                                      10,    30};

  explicit ServiceMetrics(std::string service) : service_(std::move(service)) {}

  void requestStarted() { ++in_flight_; }
  void requestFinished(std::string_view route, std::string_view method, int status,
                       double seconds);

  void setPool(const PgPool* pool) { pool_ = pool; }
  void setRedisUp(std::function<bool()> up) { redis_up_ = std::move(up); }
  void addCollector(std::function<void(metrics::Exposition&)> collector) {
    collectors_.push_back(std::move(collector));
  }

  std::string render() const;

 private:
  struct Latency {
    std::array<uint64_t, kBuckets.size() + 1> counts{};
    double sum = 0;
  };

  std::string service_;
  int64_t in_flight_ = 0;
  std::map<std::tuple<std::string, std::string, int>, uint64_t, std::less<>> requests_;
  std::map<std::string, Latency, std::less<>> latency_;
  const PgPool* pool_ = nullptr;
  std::function<bool()> redis_up_;
  std::vector<std::function<void(metrics::Exposition&)>> collectors_;
};

}  // namespace kit
