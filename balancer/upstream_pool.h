#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "balancer/backend.h"
#include "balancer/policy.h"

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
  UpstreamPool(Worker* worker, const Upstream* upstream, uint64_t seed);
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
  // backend already has max_idle idle connections, is not usable or has left the upstream.
  void release(UpstreamConnection* conn);
  // Called by a closing connection so it is no longer handed out.
  void forget(UpstreamConnection* conn);
  // Closes every idle connection (shutdown).
  void closeIdle();
  // Takes the upstream's current set if it changed. Called on each pick, and when the admin
  // API wakes the worker so idle connections to a removed backend close at once.
  void refresh();
  // SIGHUP: the same upstream (by name) in a new snapshot. Takes its backend set and policy;
  // idle connections to backends that stayed are kept.
  void rebind(const Upstream* upstream) {
    upstream_ = upstream;
    generation_ = UINT64_MAX;  // the new upstream counts from 0: refresh() must not skip
    refresh();
  }

 private:
  // The index of the connection's backend in the current set, or -1 if it left.
  int indexOf(UpstreamConnection* conn);

  Worker* worker_;
  const Upstream* upstream_;
  uint64_t seed_;
  uint64_t generation_;
  std::shared_ptr<const BackendSet> set_;
  std::unique_ptr<Policy> policy_;
  std::vector<std::vector<UpstreamConnection*>> idle_;  // per backend, most recent last
};

}  // namespace balancer
