// A worker's side of a configuration reload (SIGHUP): it takes the new snapshot between two
// loop callbacks, so no request sees half of it. Kept here so worker.cc only calls it.
#include <unistd.h>

#include <algorithm>

#include "balancer/downstream/session.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/log/log.h"

namespace balancer {

namespace {

bool sameAddress(const ListenerRuntime* a, const ListenerRuntime* b) {
  return sameListener(*a->config, *b->config);
}

}  // namespace

UpstreamPool& Worker::pool(const Snapshot* snapshot, size_t upstream_index) {
  return *generationOf(snapshot).pools[upstream_index];
}

Worker::Generation& Worker::generationOf(const Snapshot* snapshot) {
  for (auto it = generations_.rbegin(); it != generations_.rend(); ++it) {
    if (it->snapshot.get() == snapshot) {
      return *it;
    }
  }
  // Cannot happen: every snapshot a session holds was taken through this worker, and is
  // kept while a session holds it.
  LOG_ERROR("worker %d: a session holds an unknown snapshot", id_);
  abort();
}

void Worker::leave(Generation& generation) {
  if (--generation.sessions == 0 && &generation != &generations_.back()) {
    scheduleSweep();
  }
}

void Worker::scheduleSweep() {
  if (loop_closing_) {
    return;  // the worker ends: everything goes with it
  }
  // An idle handle runs in the next loop turn without waiting for I/O. Not now: the session
  // or connection that let go is still being closed by the caller.
  uv_idle_start(&sweep_, [](uv_idle_t* idle) {
    uv_idle_stop(idle);
    static_cast<Worker*>(idle->data)->sweep();
  });
}

void Worker::sweep() {
  for (size_t i = 0; i + 1 < generations_.size();) {
    if (generations_[i].sessions != 0) {
      ++i;
      continue;
    }
    // The snapshot, its listeners' runtimes and its metrics block go with the last holder.
    generations_.erase(generations_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  draining_pools_ = 0;
  for (auto it = pools_.begin(); it != pools_.end();) {
    UpstreamPool* pool = it->get();
    bool used = false;
    for (const Generation& g : generations_) {
      used = used || std::find(g.pools.begin(), g.pools.end(), pool) != g.pools.end();
    }
    if (used) {
      ++it;
      continue;
    }
    pool->closeIdle();
    if (pool->connections() != 0) {
      ++draining_pools_;  // a connection still connecting or flushing: upstreamClosed()
      ++it;               // sweeps again
      continue;
    }
    it = pools_.erase(it);
  }
}

void Worker::reload(Reload reload) {
  {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    pending_reloads_.push_back(std::move(reload));
  }
  uv_async_send(&reload_async_);
}

void Worker::onReload(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  std::vector<Reload> pending;
  {
    std::lock_guard<std::mutex> lock(self->reload_mutex_);
    pending.swap(self->pending_reloads_);
  }
  for (Reload& r : pending) {
    self->applyReload(std::move(r));
  }
}

void Worker::applyReload(Reload reload) {
  if (stopping_) {
    for (const Listening& l : reload.added) {
      ::close(l.fd);  // shutting down: the new listeners never open
    }
    return;
  }
  const Snapshot* next = reload.snapshot.get();
  open_files_.clear();  // a new root or index, or files an operator changed: look again
  if (reload.metrics) {
    metrics_ = std::move(reload.metrics);
  }
  // Upstream pools: an upstream that stays (same name) keeps its pool and idle connections;
  // a new one gets a pool; a removed one's pool closes its idle connections and stays for
  // the sessions still on the old snapshot.
  Generation& current = generations_.back();
  std::vector<bool> kept(current.pools.size(), false);
  Generation generation{std::move(reload.snapshot), std::move(reload.listeners), metrics_, {}, 0};
  for (size_t i = 0; i < next->upstreams().size(); ++i) {
    // Shares the ownership of the snapshot: a pool keeps the upstream it serves alive.
    std::shared_ptr<const Upstream> u(generation.snapshot, next->upstreams()[i].get());
    UpstreamPool* pool = nullptr;
    for (size_t j = 0; j < current.pools.size(); ++j) {
      if (!kept[j] && current.pools[j]->config().name == u->config->name) {
        pool = current.pools[j];
        kept[j] = true;
        pool->rebind(u);
        break;
      }
    }
    if (pool == nullptr) {
      uint64_t seed = random_state_ + pools_created_++ * 7919;
      pools_.push_back(std::make_unique<UpstreamPool>(this, std::move(u), seed));
      pool = pools_.back().get();
    }
    generation.pools.push_back(pool);
  }
  for (size_t j = 0; j < current.pools.size(); ++j) {
    if (!kept[j]) {
      current.pools[j]->closeIdle();
    }
  }
  bool current_unused = current.sessions == 0;
  generations_.push_back(std::move(generation));
  if (current_unused) {
    scheduleSweep();  // the snapshot just replaced has no session to wait for
  }
  const ListenerRuntimes& runtimes = *generations_.back().listeners;

  // Listeners: one that stays (same address) keeps its socket and takes the new runtime; a
  // removed one stops accepting; its connections drain.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    ListenerHandle* handle = it->get();
    const ListenerRuntime* runtime = nullptr;
    for (const auto& candidate : runtimes) {
      if (sameAddress(candidate.get(), handle->listener)) {
        runtime = candidate.get();
      }
    }
    if (runtime != nullptr) {
      handle->listener = runtime;
      ++it;
      continue;
    }
    LOG_INFO("worker %d: listener %s closed by reload", id_,
             handle->listener->config->address.text.c_str());
    it->release();
    it = listeners_.erase(it);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->tcp),
             [](uv_handle_t* h) { delete static_cast<ListenerHandle*>(h->data); });
  }
  for (const Listening& l : reload.added) {
    std::string error;
    if (!listen(l, &error)) {
      LOG_ERROR("worker %d: %s", id_, error.c_str());
    }
  }
  snapshot_ = next;
  keepRequestLimits();
  // Sessions of a listener that left finish their exchange and close.
  for (Session* s = sessions_; s != nullptr; s = s->next_) {
    bool stays = false;
    for (const auto& candidate : runtimes) {
      stays = stays || sameAddress(candidate.get(), s->listener_);
    }
    if (!stays) {
      s->drain();
    }
  }
}

void Worker::keepRequestLimits() {
  const http::ParserLimits& limits = snapshot_->requestLimits();
  if (request_limits_ != nullptr && *request_limits_ == limits) {
    return;
  }
  for (const auto& kept : kept_limits_) {
    if (*kept == limits) {
      request_limits_ = kept.get();
      return;
    }
  }
  kept_limits_.push_back(std::make_unique<const http::ParserLimits>(limits));
  request_limits_ = kept_limits_.back().get();
}

bool Worker::follow(const Snapshot** snapshot, const ListenerRuntime** listener,
                    WorkerMetrics** metrics) {
  for (const auto& handle : listeners_) {
    if (sameAddress(handle->listener, *listener)) {
      Generation& from = generationOf(*snapshot);
      ++generations_.back().sessions;
      leave(from);
      *snapshot = snapshot_;
      *listener = handle->listener;
      *metrics = metrics_.get();
      return true;
    }
  }
  return false;
}

}  // namespace balancer
