#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balancer/config.h"
#include "balancer/metrics/counter.h"
#include "balancer/status/latency_window.h"
#include "common/util/address.h"

namespace balancer {

// One server of an upstream, shared by every worker. The health checker writes `healthy`;
// workers count `in_flight` so least_conn and p2c see the load of the whole process.
// Backends are held by shared_ptr: health, counts and ejection state survive changes of the
// upstream's backend set, and a removed backend lives until its last connection has closed.
struct Backend {
  // Weights are kept scaled by this, so slow start can ramp a weight of 1 smoothly.
  static constexpr int kWeightScale = 100;
  // Requests and errors are counted per worker, each worker in its own cache line, and summed
  // when read (GET /upstreams): no line is written by two workers on the request path.
  static constexpr size_t kCounterSlots = 64;
  struct alignas(64) CounterSlot {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> errors{0};
  };

  Backend(util::SocketAddress addr, int w)
      : address(std::move(addr)), weight(w), effective_weight(w * kWeightScale) {}

  util::SocketAddress address;
  std::atomic<int> weight{1};             // as configured (YAML or PUT on the admin API)
  std::atomic<int> effective_weight{100};  // weight * kWeightScale, less during slow start
  std::atomic<bool> healthy{true};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};
  // Passive ejection (balancer/outlier): written on failures, and on the first success after
  // a failure, so a healthy backend's line is only read on the request path.
  std::atomic<int> consecutive_failures{0};
  std::atomic<bool> ejected{false};
  std::atomic<int64_t> ejected_at_ms{0};       // steady clock, ms
  std::atomic<int64_t> ejected_until_ms{0};    // steady clock, ms
  std::atomic<int64_t> readmitted_at_ms{0};    // when the last ejection ended
  std::atomic<int> recent_ejections{0};        // n in base * 2^(n-1)
  std::atomic<uint64_t> ejections{0};          // times ejected since start (a metric)
  std::atomic<int64_t> last_check_ok_ms{0};    // last passing active health check
  std::atomic<int64_t> slow_start_begin_ms{0};  // 0: not ramping
  // Active health check results, for /metrics (written by the health checker's thread).
  Counter health_checks_ok;
  Counter health_checks_failed;
  // Answers and their time to headers over the last minute (the admin status page).
  LatencyWindow latency;

  bool usable() const {
    return healthy.load(std::memory_order_relaxed) &&
           !draining.load(std::memory_order_relaxed) && !ejected.load(std::memory_order_relaxed);
  }
  int64_t inFlight() const { return in_flight.load(std::memory_order_relaxed); }
  // The weight the policies use, scaled by kWeightScale.
  int64_t effectiveWeight() const { return effective_weight.load(std::memory_order_relaxed); }

  // Counts an answer (or a failure to get one) from this backend; `worker` is the worker's id.
  void countRequest(int worker, bool error) {
    CounterSlot& slot = counters[static_cast<size_t>(worker) % kCounterSlots];
    slot.requests.fetch_add(1, std::memory_order_relaxed);
    if (error) {
      slot.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  uint64_t requests() const {
    uint64_t n = 0;
    for (size_t i = 0; i < kCounterSlots; ++i) {
      n += counters[i].requests.load(std::memory_order_relaxed);
    }
    return n;
  }
  uint64_t errors() const {
    uint64_t n = 0;
    for (size_t i = 0; i < kCounterSlots; ++i) {
      n += counters[i].errors.load(std::memory_order_relaxed);
    }
    return n;
  }

  std::unique_ptr<CounterSlot[]> counters{new CounterSlot[kCounterSlots]};
};

// An upstream's backends at one moment. Immutable once published: a change publishes a new
// set, and workers pick it up by the upstream's generation counter.
struct BackendSet {
  std::vector<std::shared_ptr<Backend>> backends;
  std::vector<Backend*> view;  // the same backends, as the policies take them

  // The backend with this address ("127.0.0.1:7101"), or null.
  std::shared_ptr<Backend> find(const std::string& address) const {
    for (const auto& b : backends) {
      if (b->address.text == address) {
        return b;
      }
    }
    return nullptr;
  }
};

// An upstream, shared by every worker; each worker keeps its own policy state and connection
// pools beside it. The backend set is replaced at run time by the admin API (on the main
// thread); workers compare generation() with the one they cached, a relaxed load per pick,
// and reload the set only when it changed.
struct Upstream {
  const UpstreamConfig* config = nullptr;

  std::shared_ptr<const BackendSet> backends() const {
    return set_.load(std::memory_order_acquire);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Publishes a new set. Main thread only (one writer); workers see it at their next pick.
  void publish(std::shared_ptr<const BackendSet> set) {
    set_.store(std::move(set), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const BackendSet>> set_{std::make_shared<const BackendSet>()};
  std::atomic<uint64_t> generation_{0};
};

}  // namespace balancer
