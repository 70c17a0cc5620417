#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "balancer/control/runtime_changes.h"

namespace balancer {

struct Backend;
class HealthChecker;
class Snapshot;
struct Upstream;

// Changes to the upstreams' backends at run time, and the upkeep that follows from them and
// from passive ejection. Lives on the main loop, beside the health checker; the admin API
// calls it. Every change publishes a new backend set (workers see it at their next pick) and
// wakes the workers so idle connections to a backend that left close at once.
//
// A timer (every 100 ms) removes drained backends whose last in-flight request has ended,
// readmits ejected backends whose time is over, and moves slow starts on.
class Control {
 public:
  // The outcome of a change: an HTTP status (201, 202, 200, 400, 404, 409) and, when it is
  // not a success, the reason.
  struct Outcome {
    int status = 200;
    std::string error;
  };

  // `wake_workers` is called on the main loop after a set changed.
  Control(uv_loop_t* loop, Snapshot* snapshot, HealthChecker* checker,
          std::function<void()> wake_workers);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  void start();
  void stop();

  // Who asks for a change. Only the admin API's changes are recorded to outlive a reload;
  // DNS discovery keeps its own record (balancer/discovery) and never brings back a backend
  // the admin API removed.
  enum class Origin { kAdmin, kDns };

  // Adds a backend: 201, or 400 (address), 404 (upstream), 409 (already there). With a
  // health check it starts down and gets traffic once a check passes; else at once.
  Outcome addBackend(const std::string& upstream, const std::string& address, int weight,
                     Origin origin = Origin::kAdmin);
  // Drains a backend: 202; it gets no new requests and leaves once its in-flight ones end.
  Outcome removeBackend(const std::string& upstream, const std::string& address,
                        Origin origin = Origin::kAdmin);
  // Changes a backend's weight: 200.
  Outcome setWeight(const std::string& upstream, const std::string& address, int weight);

  // GET /upstreams: every upstream with its policy and backends, as JSON.
  std::string upstreamsJson() const;
  const RuntimeChanges& changes() const { return changes_; }
  // The snapshot in use (changed by retarget, on this same loop).
  const Snapshot& snapshot() const { return *snapshot_; }
  // SIGHUP: the upstreams are the new snapshot's from now on; changes to upstreams it has
  // not are dropped.
  void retarget(Snapshot* snapshot);

  // One round of upkeep at `now_ms` (the timer's work; public for tests).
  void tick(int64_t now_ms);

 private:
  static void onTimer(uv_timer_t* timer);
  Upstream* find(const std::string& name) const;
  std::shared_ptr<Backend> findBackend(const std::string& upstream, const std::string& address,
                                       Outcome* missing) const;

  uv_loop_t* loop_;
  Snapshot* snapshot_;
  HealthChecker* checker_;
  std::function<void()> wake_workers_;
  RuntimeChanges changes_;
  std::map<const void*, bool> was_healthy_;  // per backend, to start slow starts on recovery
  uv_timer_t* timer_ = nullptr;              // freed in its close callback
};

}  // namespace balancer
