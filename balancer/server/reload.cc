// Server, its part of SIGHUP: the whole configuration is loaded again and, when it is good,
// swapped in without closing a kept listener or cutting an exchange. Kept here so server.cc
// only calls it.
//
// Order: load and validate the file; build the snapshot and carry the backends that stay
// (health, ejection, counters) and the admin API's changes into it; load its certificates;
// bind its new listeners; load its JWKS. Any failure leaves everything as it was. Then the
// commit: metrics, health checks and the admin API move to the new snapshot, and each
// worker takes it within one loop turn. Sessions finish their exchange on the snapshot it
// began with; a snapshot is freed when the last session on it closes (worker/reload.cc).
#include <unistd.h>

#include "balancer/server/server.h"
#include "common/log/log.h"

namespace balancer {

namespace {

const Upstream* findUpstream(const Snapshot& snapshot, const std::string& name) {
  for (const auto& u : snapshot.upstreams()) {
    if (u->config->name == name) {
      return u.get();
    }
  }
  return nullptr;
}

// Backends that stay (same upstream name, same address) are the same objects in the new
// snapshot, so their health, ejection state, in-flight counts and counters go on. So are
// backends the admin API added that the YAML does not list (RuntimeChanges keeps them).
void carryBackends(const Snapshot& old, Snapshot& next, const RuntimeChanges& changes) {
  for (const auto& nu : next.upstreams()) {
    const Upstream* ou = findUpstream(old, nu->config->name);
    if (ou == nullptr) {
      continue;
    }
    auto previous = ou->backends();
    auto fresh = nu->backends();
    auto set = std::make_shared<BackendSet>();
    for (const auto& b : fresh->backends) {
      std::shared_ptr<Backend> kept = previous->find(b->address.text);
      if (!kept) {
        set->backends.push_back(b);
        continue;
      }
      int weight = b->weight.load();
      kept->weight.store(weight);
      if (kept->slow_start_begin_ms.load() == 0) {
        kept->effective_weight.store(weight * Backend::kWeightScale);
      }
      if (!nu->config->health_check) {
        kept->healthy.store(true);  // nothing would ever bring it up again
      }
      set->backends.push_back(std::move(kept));
    }
    for (const auto& b : previous->backends) {
      auto it = changes.changes().find({nu->config->name, b->address.text});
      if (it != changes.changes().end() && it->second.kind == RuntimeChanges::Kind::kAdded &&
          !set->find(b->address.text)) {
        set->backends.push_back(b);
      }
    }
    for (const auto& b : set->backends) {
      set->view.push_back(b.get());
    }
    nu->publish(std::move(set));
  }
}

// Whether the workers' metrics blocks sized for `a` fit `b` with the same labels.
bool sameMetricShape(const Snapshot& a, const Snapshot& b) {
  const Config& x = a.config();
  const Config& y = b.config();
  if (x.routes.size() != y.routes.size() || x.upstreams.size() != y.upstreams.size() ||
      x.listeners.size() != y.listeners.size()) {
    return false;
  }
  for (size_t i = 0; i < x.routes.size(); ++i) {
    if (routeLabel(x.routes[i], i) != routeLabel(y.routes[i], i) ||
        a.upstreamLabelOfRoute(i) != b.upstreamLabelOfRoute(i)) {
      return false;
    }
  }
  for (size_t i = 0; i < x.upstreams.size(); ++i) {
    if (x.upstreams[i].name != y.upstreams[i].name) {
      return false;
    }
  }
  for (size_t i = 0; i < x.listeners.size(); ++i) {
    if (x.listeners[i].name != y.listeners[i].name ||
        x.listeners[i].tls.has_value() != y.listeners[i].tls.has_value()) {
      return false;
    }
  }
  return true;
}

// Settings read once at start: a change is logged and waits for a restart.
void warnRestartOnly(const Config& running, const Config& loaded) {
  auto text = [](const std::optional<util::SocketAddress>& a) {
    return a ? a->text : std::string("(none)");
  };
  if (running.workers != loaded.workers) {
    LOG_WARN("SIGHUP: workers changed: ignored until restart");
  }
  if (text(running.admin_address) != text(loaded.admin_address) ||
      running.admin_token != loaded.admin_token ||
      running.admin_allowed_hosts != loaded.admin_allowed_hosts) {
    LOG_WARN("SIGHUP: admin address or token changed: ignored until restart");
  }
  if (running.access_log.has_value() != loaded.access_log.has_value() ||
      (running.access_log && running.access_log->path != loaded.access_log->path)) {
    LOG_WARN("SIGHUP: access_log section changed: ignored until restart");
  }
  auto redis = [](const Config& c) { return c.redis ? c.redis->address : std::string(); };
  if (redis(running) != redis(loaded)) {
    LOG_WARN("SIGHUP: redis changed: ignored until restart");
  }
}

}  // namespace

void Server::reload() {
  if (shutting_down_) {
    return;
  }
  if (config_path_.empty()) {
    // No file to read again (embedded use): certificates and keys only.
    LOG_INFO("SIGHUP: reloading TLS certificates and JWT keys");
    if (!loadTls() || !loadJwks()) {
      LOG_ERROR("SIGHUP: keeping the certificates and keys in use");
    }
    return;
  }
  LOG_INFO("SIGHUP: reloading %s", config_path_.c_str());
  auto fail = [this](const char* why) {
    LOG_ERROR("SIGHUP: configuration not reloaded (%s); the running one stays", why);
    metrics_->countReload(false);
  };
  ConfigResult result = loadConfigFile(config_path_);
  for (const ConfigError& error : result.errors) {
    LOG_ERROR("SIGHUP: %s", formatConfigError(config_path_, error).c_str());
  }
  if (!result.config) {
    fail("invalid configuration");
    return;
  }
  warnRestartOnly(snapshot_->config(), *result.config);
  auto next = std::make_shared<Snapshot>(std::move(*result.config), snapshot_.get());
  carryBackends(*snapshot_, *next, control_->changes());
  control_->changes().applyTo(*next);
  discovery_->carryInto(*snapshot_, *next);

  // Listener runtimes for the new config, certificates loaded (for kept TLS listeners too:
  // the files may have been renewed).
  auto runtimes = std::make_shared<ListenerRuntimes>();
  for (const ListenerConfig& l : next->config().listeners) {
    auto runtime = std::make_unique<ListenerRuntime>();
    runtime->config = &l;
    runtimes->push_back(std::move(runtime));
  }
  listeners_.swap(runtimes);  // runtimes: the running ones, until the commit
  if (!loadTls()) {
    listeners_.swap(runtimes);
    fail("certificates");
    return;
  }

  // New listeners (an address the running config has not) are bound now, one socket per
  // worker as at start, and handed over to the workers with the snapshot.
  std::vector<std::vector<Worker::Listening>> fds(workers_.size());
  for (const auto& runtime : *listeners_) {
    const ListenerConfig& l = *runtime->config;
    bool open = false;
    for (const auto& running : *runtimes) {
      if (sameListener(*running->config, l)) {
        open = true;
        runtime->port = running->port;  // the port it was bound to (port 0: the kernel's)
      }
    }
    if (open) {
      continue;
    }
    util::SocketAddress address = l.address;
    // A port this balancer listens on already (say 127.0.0.1:P becoming 0.0.0.0:P) is its
    // own: the check for another process there would find the running socket.
    bool port_is_ours = false;
    for (const auto& running : *runtimes) {
      port_is_ours = port_is_ours || (address.port() != 0 && running->port == address.port());
    }
    for (size_t w = 0; w < workers_.size(); ++w) {
      std::string error;
      int fd = openListeningSocket(address, w == 0 && !port_is_ours, &error);
      if (fd < 0) {
        LOG_ERROR("SIGHUP: listener %s: cannot listen on %s: %s", l.name.c_str(),
                  address.text.c_str(), error.c_str());
        closeListening(fds);
        listeners_.swap(runtimes);
        fail("listener");
        return;
      }
      if (w == 0 && address.port() == 0) {
        socklen_t len = sizeof address.storage;
        getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &len);
      }
      fds[w].push_back({fd, runtime.get()});
    }
    runtime->port = address.port();
    LOG_INFO("listening name=%s address=%s", l.name.c_str(),
             util::formatAddress(address.get()).c_str());
  }
  setHttpsPort(*listeners_);

  snapshot_.swap(next);  // next: the running snapshot, until the commit
  if (!loadJwks()) {
    snapshot_.swap(next);
    closeListening(fds);
    listeners_.swap(runtimes);
    fail("JWT keys");
    return;
  }

  // Commit.
  const Snapshot* current = snapshot_.get();
  std::vector<std::shared_ptr<WorkerMetrics>> blocks;
  if (!sameMetricShape(*next, *current)) {
    for (size_t w = 0; w < workers_.size(); ++w) {
      blocks.push_back(std::make_shared<WorkerMetrics>(current->config()));
    }
  }
  metrics_->addSnapshot(current, {blocks.begin(), blocks.end()});
  health_checker_->retarget(current);
  control_->retarget(snapshot_.get());
  discovery_->retarget(*current);
  for (size_t w = 0; w < workers_.size(); ++w) {
    Worker::Reload r;
    r.snapshot = snapshot_;
    r.listeners = listeners_;
    r.metrics = blocks.empty() ? nullptr : blocks[w];
    r.added = std::move(fds[w]);
    workers_[w]->reload(std::move(r));
  }
  // `next` and `runtimes`, the replaced snapshot and listeners, are let go here: each worker
  // frees its part (pools, metrics block) and its hold once no session of it uses them.
  metrics_->countReload(true);
  LOG_INFO("SIGHUP: configuration reloaded listeners=%zu upstreams=%zu routes=%zu",
           current->config().listeners.size(), current->upstreams().size(),
           current->config().routes.size());
}

}  // namespace balancer
