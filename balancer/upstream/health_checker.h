#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "balancer/upstream/backend.h"
#include "balancer/config.h"

namespace balancer {

class Snapshot;

// Active health checks, run once per process on the main loop (not per worker): each backend
// of an upstream with a health_check gets `GET path` every interval, with +-10% jitter so
// checks do not arrive in step. A 2xx answer within the timeout is a success. After
// healthy_threshold successes in a row a backend is marked up, after unhealthy_threshold
// failures down; workers read the flag and send a down backend nothing.
class HealthChecker {
 public:
  HealthChecker(uv_loop_t* loop, const Snapshot* snapshot);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  // Stops scheduling checks and closes their handles.
  void stop();
  // Starts checking a backend added at run time (nothing if its upstream has no check).
  void watch(const Upstream& upstream, std::shared_ptr<Backend> backend);
  // Stops checking a backend that left its upstream.
  void unwatch(const Backend* backend);
  // SIGHUP: checks the new snapshot's backends with its settings from now on. Health flags
  // live in the backends, so a backend that stays keeps its state (no flap).
  void retarget(const Snapshot* snapshot);

 private:
  struct Probe;
  struct Attempt;

  static void onTick(uv_timer_t* timer);
  void addProbe(const Upstream& upstream, std::shared_ptr<Backend> backend);
  void schedule(Probe* probe, bool first);
  void run(Probe* probe);
  void record(Probe* probe, bool ok, const char* why);
  uint64_t jitter(uint64_t interval_ms);

  uv_loop_t* loop_;
  const Snapshot* snapshot_;
  std::vector<std::unique_ptr<Probe>> probes_;
  uint64_t random_state_ = 0x853c49e6748fea9bULL;
  bool stopped_ = false;
};

}  // namespace balancer
