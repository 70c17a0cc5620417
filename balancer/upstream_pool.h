#pragma once

#include <memory>
#include <vector>

#include "balancer/backend.h"
#include "balancer/policy.h"

namespace balancer {

class UpstreamConnection;
class Worker;

// One worker's view of an upstream: its balancing policy state and its idle keep-alive
// connections to each backend. Used by one loop thread only.
class UpstreamPool {
 public:
  UpstreamPool(Worker* worker, const Upstream* upstream, uint64_t seed);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const Upstream& upstream() const { return *upstream_; }
  const UpstreamConfig& config() const { return *upstream_->config; }

  // Runs the policy. Returns a backend index, or -1 when no backend is usable.
  int pickBackend(const TriedSet& tried);
  Backend* backend(size_t index) const { return upstream_->view[index]; }

  // Returns an idle connection to the backend when there is one (reused() is then true),
  // otherwise a new connection that has started connecting. Returns nullptr if the socket
  // could not even be created.
  UpstreamConnection* acquire(size_t backend_index);
  // Takes a connection back after a complete exchange; keeps it idle, or closes it when the
  // backend already has max_idle idle connections or is draining.
  void release(UpstreamConnection* conn);
  // Called by a closing connection so it is no longer handed out.
  void forget(UpstreamConnection* conn);
  // Closes every idle connection (shutdown).
  void closeIdle();

 private:
  Worker* worker_;
  const Upstream* upstream_;
  std::unique_ptr<Policy> policy_;
  std::vector<std::vector<UpstreamConnection*>> idle_;  // per backend, most recent last
};

}  // namespace balancer
