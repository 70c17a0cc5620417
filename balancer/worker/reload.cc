// A worker's side of a configuration reload (SIGHUP): it takes the new snapshot between two
// loop callbacks, so no request sees half of it. Kept here so worker.cc only calls it.
#include <unistd.h>

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
  for (auto it = generations_.rbegin(); it != generations_.rend(); ++it) {
    if (it->snapshot == snapshot) {
      return *it->pools[upstream_index];
    }
  }
  // Cannot happen: every snapshot a session holds was taken through this worker.
  LOG_ERROR("worker %d: a session holds an unknown snapshot", id_);
  abort();
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
  const Snapshot* next = reload.snapshot;
  // Upstream pools: an upstream that stays (same name) keeps its pool and idle connections;
  // a new one gets a pool; a removed one's pool closes its idle connections and stays for
  // the sessions still on the old snapshot.
  Generation& current = generations_.back();
  std::vector<bool> kept(current.pools.size(), false);
  Generation generation{next, {}};
  for (size_t i = 0; i < next->upstreams().size(); ++i) {
    const Upstream* u = next->upstreams()[i].get();
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
      uint64_t seed = random_state_ + pools_.size() * 7919;
      pools_.push_back(std::make_unique<UpstreamPool>(this, u, seed));
      pool = pools_.back().get();
    }
    generation.pools.push_back(pool);
  }
  for (size_t j = 0; j < current.pools.size(); ++j) {
    if (!kept[j]) {
      current.pools[j]->closeIdle();
    }
  }
  generations_.push_back(std::move(generation));

  // Listeners: one that stays (same address) keeps its socket and takes the new runtime; a
  // removed one stops accepting; its connections drain.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    ListenerHandle* handle = it->get();
    const ListenerRuntime* runtime = nullptr;
    for (const ListenerRuntime* candidate : reload.listeners) {
      if (sameAddress(candidate, handle->listener)) {
        runtime = candidate;
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
  if (reload.metrics) {
    metrics_ = std::move(reload.metrics);
  }
  // Sessions of a listener that left finish their exchange and close.
  for (Session* s = sessions_; s != nullptr; s = s->next_) {
    bool stays = false;
    for (const ListenerRuntime* candidate : reload.listeners) {
      stays = stays || sameAddress(candidate, s->listener_);
    }
    if (!stays) {
      s->drain();
    }
  }
}

bool Worker::follow(const Snapshot** snapshot, const ListenerRuntime** listener,
                    WorkerMetrics** metrics) {
  for (const auto& handle : listeners_) {
    if (sameAddress(handle->listener, *listener)) {
      *snapshot = snapshot_;
      *listener = handle->listener;
      *metrics = metrics_.get();
      return true;
    }
  }
  return false;
}

}  // namespace balancer
