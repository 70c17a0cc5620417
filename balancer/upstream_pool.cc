#include "balancer/upstream_pool.h"

#include <algorithm>

#include "balancer/upstream_connection.h"

namespace balancer {

UpstreamPool::UpstreamPool(Worker* worker, const Upstream* upstream, uint64_t seed)
    : worker_(worker),
      upstream_(upstream),
      policy_(makePolicy(upstream->config->balance, seed)),
      idle_(upstream->view.size()) {}

UpstreamPool::~UpstreamPool() = default;

int UpstreamPool::pickBackend(const TriedSet& tried) {
  return policy_->pick(upstream_->view, tried);
}

UpstreamConnection* UpstreamPool::acquire(size_t backend_index) {
  auto& idle = idle_[backend_index];
  if (!idle.empty()) {
    // The most recently used connection is the least likely to have been closed by the
    // backend; the oldest ones are left to time out.
    UpstreamConnection* conn = idle.back();
    idle.pop_back();
    conn->leaveIdle();
    return conn;
  }
  auto* conn = new UpstreamConnection(worker_, this, backend_index, backend(backend_index));
  if (conn->connect(config().connect_timeout) != 0) {
    return nullptr;  // the connection has closed itself and reported nothing
  }
  return conn;
}

void UpstreamPool::release(UpstreamConnection* conn) {
  if (conn->state() == UpstreamConnection::State::kClosed) {
    return;
  }
  auto& idle = idle_[conn->backendIndex()];
  if (idle.size() >= config().pool.max_idle || !conn->backend()->usable()) {
    conn->close();
    return;
  }
  idle.push_back(conn);
  conn->enterIdle(config().pool.idle_timeout);
}

void UpstreamPool::forget(UpstreamConnection* conn) {
  auto& idle = idle_[conn->backendIndex()];
  auto it = std::find(idle.begin(), idle.end(), conn);
  if (it != idle.end()) {
    idle.erase(it);
  }
}

void UpstreamPool::closeIdle() {
  for (auto& idle : idle_) {
    std::vector<UpstreamConnection*> copy;
    copy.swap(idle);
    for (UpstreamConnection* conn : copy) {
      conn->close();
    }
  }
}

}  // namespace balancer
