#include "balancer/upstream/upstream_pool.h"

#include <algorithm>

#include "balancer/upstream/upstream_connection.h"
#include "balancer/worker/worker.h"

namespace balancer {

UpstreamPool::UpstreamPool(Worker* worker, std::shared_ptr<const Upstream> upstream,
                           uint64_t seed)
    : worker_(worker),
      loop_(worker->loop()),
      upstream_(std::move(upstream)),
      seed_(seed),
      generation_(upstream_->generation()),
      set_(upstream_->backends()),
      policy_(makePolicy(upstream_->config->balance, seed)),
      idle_(set_->view.size()),
      usage_(set_->view.size()),
      window_start_ms_(uv_now(loop_)) {}

UpstreamPool::~UpstreamPool() = default;

void UpstreamPool::refresh() {
  uint64_t generation = upstream_->generation();
  if (generation == generation_) {
    return;
  }
  generation_ = generation;
  std::shared_ptr<const BackendSet> next = upstream_->backends();
  std::vector<std::vector<UpstreamConnection*>> idle(next->view.size());
  std::vector<Usage> usage(next->view.size());
  std::vector<UpstreamConnection*> orphans;
  for (size_t i = 0; i < idle_.size(); ++i) {
    auto it = std::find(next->view.begin(), next->view.end(), set_->view[i]);
    if (it == next->view.end()) {
      orphans.insert(orphans.end(), idle_[i].begin(), idle_[i].end());
      continue;
    }
    size_t j = static_cast<size_t>(it - next->view.begin());
    idle[j] = std::move(idle_[i]);
    usage[j] = usage_[i];
    for (UpstreamConnection* conn : idle[j]) {
      conn->setBackendIndex(j);
    }
  }
  idle_ = std::move(idle);
  usage_ = std::move(usage);
  set_ = std::move(next);
  // The policy's state is per position; a new set starts it afresh.
  policy_ = makePolicy(upstream_->config->balance, seed_ + generation);
  for (UpstreamConnection* conn : orphans) {
    conn->close();  // its forget() finds it in no list now
  }
}

int UpstreamPool::pickBackend(const TriedSet& tried) {
  refresh();
  return policy_->pick(set_->view, tried);
}

bool UpstreamPool::hasCandidate(const TriedSet& tried) const {
  for (size_t i = 0; i < set_->view.size(); ++i) {
    if (set_->view[i]->usable() && !tried.contains(i)) {
      return true;
    }
  }
  return false;
}

UpstreamConnection* UpstreamPool::acquire(size_t backend_index) {
  rollPeakWindow();
  auto& idle = idle_[backend_index];
  Usage& usage = usage_[backend_index];
  UpstreamConnection* conn = nullptr;
  if (!idle.empty()) {
    // The most recently used connection is the least likely to have been closed by the
    // backend; the oldest ones are left to time out.
    conn = idle.back();
    idle.pop_back();
    conn->leaveIdle();
  } else {
    conn = new UpstreamConnection(worker_, this, backend_index, set_->backends[backend_index]);
    ++connections_;
    ++usage.open;
    if (conn->connect(config().connect_timeout) != 0) {
      return nullptr;  // the connection has closed itself (forget() counted it) and reported nothing
    }
  }
  usage.peak = std::max(usage.peak, usage.open - idle.size());
  return conn;
}

size_t UpstreamPool::idleCap(size_t index) const {
  if (config().pool.max_idle) {
    return *config().pool.max_idle;
  }
  return std::max(usage_[index].peak, usage_[index].last_peak);
}

void UpstreamPool::startPeakWindow() {
  window_start_ms_ = uv_now(loop_);
  std::vector<UpstreamConnection*> surplus;
  for (size_t i = 0; i < usage_.size(); ++i) {
    Usage& usage = usage_[i];
    // A quiet spell (windows with no pick at all) lowers no peak: the connections it left
    // idle are trimmed by idle_timeout, not closed on the next pick and opened again.
    usage.last_peak = usage.peak;
    usage.peak = usage.open - idle_[i].size();  // those busy now are this window's floor
    size_t cap = idleCap(i);
    auto& idle = idle_[i];
    if (idle.size() > cap) {
      size_t extra = idle.size() - cap;
      surplus.insert(surplus.end(), idle.begin(), idle.begin() + static_cast<ptrdiff_t>(extra));
      idle.erase(idle.begin(), idle.begin() + static_cast<ptrdiff_t>(extra));
    }
  }
  for (UpstreamConnection* conn : surplus) {
    conn->close();  // its forget() finds it in no idle list, and counts it out of `open`
  }
}

int UpstreamPool::indexOf(UpstreamConnection* conn) {
  size_t i = conn->backendIndex();
  if (i < set_->view.size() && set_->view[i] == conn->backend()) {
    return static_cast<int>(i);
  }
  // The set changed while the connection was busy: find its backend's new place.
  for (size_t j = 0; j < set_->view.size(); ++j) {
    if (set_->view[j] == conn->backend()) {
      conn->setBackendIndex(j);
      return static_cast<int>(j);
    }
  }
  return -1;
}

void UpstreamPool::release(UpstreamConnection* conn) {
  if (conn->state() == UpstreamConnection::State::kClosed) {
    return;
  }
  int index = indexOf(conn);
  if (index < 0) {
    conn->close();
    return;
  }
  rollPeakWindow();
  auto& idle = idle_[static_cast<size_t>(index)];
  if (idle.size() >= idleCap(static_cast<size_t>(index)) || !conn->backend()->usable()) {
    conn->close();
    return;
  }
  idle.push_back(conn);
  conn->enterIdle(config().pool.idle_timeout);
}

void UpstreamPool::forget(UpstreamConnection* conn) {
  --connections_;  // called once, by the connection's close()
  int index = indexOf(conn);
  if (index < 0) {
    return;
  }
  Usage& usage = usage_[static_cast<size_t>(index)];
  if (usage.open > 0) {
    --usage.open;
  }
  auto& idle = idle_[static_cast<size_t>(index)];
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
