#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "balancer/upstream/backend.h"
#include "balancer/upstream/policy.h"

namespace balancer {

class UpstreamConnection;
class Worker;

// One worker's view of an upstream: its balancing policy state and its idle keep-alive
// connections to each backend. Used by one loop thread only. It caches the upstream's backend
// set and checks the upstream's generation on each pick (a relaxed load); when the admin API
// has published a new set, it takes it, starts a fresh policy state and moves its idle
// connections over, closing those to backends that left.
class UpstreamPool {
 public:
  // `upstream` keeps what it belongs to (its snapshot) alive as long as the pool uses it.
  UpstreamPool(Worker* worker, std::shared_ptr<const Upstream> upstream, uint64_t seed);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const Upstream& upstream() const { return *upstream_; }
  const UpstreamConfig& config() const { return *upstream_->config; }

  // Runs the policy over the current set (taking a newer one first if there is one). Returns
  // a backend index, valid until control returns to the loop, or -1 when none is usable.
  int pickBackend(const TriedSet& tried);
  Backend* backend(size_t index) const { return set_->view[index]; }
  // Whether the set the last pick used has a usable backend outside `tried`; moves nothing
  // (no policy state, no newer set taken, so the exchange's indices stay valid).
  bool hasCandidate(const TriedSet& tried) const;

  // Returns an idle connection to the backend when there is one (reused() is then true),
  // otherwise a new connection that has started connecting. Returns nullptr if the socket
  // could not even be created.
  UpstreamConnection* acquire(size_t backend_index);
  // Takes a connection back after a complete exchange; keeps it idle, or closes it when the
  // backend already has as many idle connections as it may keep (max_idle, or with `auto` the
  // recent peak of its concurrent requests), is not usable or has left the upstream.
  void release(UpstreamConnection* conn);
  // Called by a closing connection so it is no longer handed out.
  void forget(UpstreamConnection* conn);
  // Closes every idle connection (shutdown).
  void closeIdle();
  // Connections of this pool not yet closed: busy, idle, or flushing after their session
  // left. The pool may be freed once none is left (a closed one only calls forget()).
  size_t connections() const { return connections_; }
  // Takes the upstream's current set if it changed. Called on each pick, and when the admin
  // API wakes the worker so idle connections to a removed backend close at once.
  void refresh();
  // SIGHUP: the same upstream (by name) in a new snapshot. Takes its backend set and policy;
  // idle connections to backends that stayed are kept.
  void rebind(std::shared_ptr<const Upstream> upstream) {
    upstream_ = std::move(upstream);
    generation_ = UINT64_MAX;  // the new upstream counts from 0: refresh() must not skip
    refresh();
  }

 private:
  // How one backend's connections of this worker are used, for the adaptive idle cap.
  struct Usage {
    size_t open = 0;       // connections of this pool to the backend, busy or idle
    size_t peak = 0;       // most connections busy at once in the current window
    size_t last_peak = 0;  // the same in the window before
  };
  // The peaks are kept over two windows of this length: a burst's connections stay pooled
  // while the load lasts and are trimmed down to the new peak within 20 s after it.
  static constexpr uint64_t kPeakWindowMs = 10000;

  // The index of the connection's backend in the current set, or -1 if it left.
  int indexOf(UpstreamConnection* conn);
  // How many idle connections the backend at `index` may keep.
  size_t idleCap(size_t index) const;
  // Starts a new peak window when the current one is over (checked on every pick: inline).
  void rollPeakWindow() {
    if (uv_now(loop_) - window_start_ms_ >= kPeakWindowMs) {
      startPeakWindow();
    }
  }
  // Starts the new window, closing the idle connections that the lower peak no longer needs
  // (the least recently used first).
  void startPeakWindow();

  Worker* worker_;
  uv_loop_t* loop_;
  size_t connections_ = 0;
  std::shared_ptr<const Upstream> upstream_;
  uint64_t seed_;
  uint64_t generation_;
  std::shared_ptr<const BackendSet> set_;
  std::unique_ptr<Policy> policy_;
  std::vector<std::vector<UpstreamConnection*>> idle_;  // per backend, most recent last
  std::vector<Usage> usage_;                           // per backend, as idle_
  uint64_t window_start_ms_ = 0;
};

}  // namespace balancer
