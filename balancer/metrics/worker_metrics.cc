#include "balancer/metrics/worker_metrics.h"

#include <openssl/ssl.h>

#include "balancer/config.h"

namespace balancer {

WorkerMetrics::WorkerMetrics(const Config& config)
    : routes_count_(config.routes.size()),
      upstreams_count_(config.upstreams.size()),
      listeners_count_(config.listeners.size()),
      routes_(new Route[config.routes.size() + 1]),
      upstreams_(new Upstream[config.upstreams.size()]),
      listeners_(new Listener[config.listeners.size() + 1]) {}

void WorkerMetrics::countRequest(int route_index, int status, uint64_t duration_ns) {
  Route& r = route(route_index);
  int slot = status - kMinStatus;
  if (slot >= 0 && slot < kStatusSlots) {
    r.codes[static_cast<size_t>(slot)].add();
  }
  double seconds = static_cast<double>(duration_ns) / 1e9;
  size_t bucket = 0;
  while (bucket < kDurationBounds.size() && seconds > kDurationBounds[bucket]) {
    ++bucket;
  }
  r.duration_buckets[bucket].add();
  r.duration_sum_ns.add(duration_ns);
}

void WorkerMetrics::countJwtRejection(int route_index, std::string_view reason) {
  size_t i = 0;
  while (i + 1 < kJwtReasons.size() && kJwtReasons[i] != reason) {
    ++i;
  }
  route(route_index).jwt_rejected[i].add();
}

void WorkerMetrics::countTlsHandshake(size_t listener_index, int version) {
  if (listener_index >= listeners_count_) {
    return;
  }
  Listener& l = listeners_[listener_index];
  if (version == 0) {
    l.tls_failed.add();
  } else if (version == TLS1_3_VERSION) {
    l.tls_ok_13.add();
  } else if (version == TLS1_2_VERSION) {
    l.tls_ok_12.add();
  } else {
    l.tls_ok_other.add();
  }
}

}  // namespace balancer
