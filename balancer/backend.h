#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balancer/config.h"
#include "common/util/address.h"

namespace balancer {

// One server of an upstream, shared by every worker. The health checker writes `healthy`;
// workers count `in_flight` so least_conn and p2c see the load of the whole process.
struct Backend {
  Backend(util::SocketAddress addr, int w) : address(std::move(addr)), weight(w) {}

  util::SocketAddress address;
  int weight = 1;
  std::atomic<bool> healthy{true};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};

  bool usable() const {
    return healthy.load(std::memory_order_relaxed) && !draining.load(std::memory_order_relaxed);
  }
  int64_t inFlight() const { return in_flight.load(std::memory_order_relaxed); }
};

// An upstream's backends, shared by every worker; each worker keeps its own policy state
// and connection pools beside it.
struct Upstream {
  const UpstreamConfig* config = nullptr;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<Backend*> view;  // the same backends, as the policies take them
};

}  // namespace balancer
