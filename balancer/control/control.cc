#include "balancer/control/control.h"

#include <nlohmann/json.hpp>

#include "balancer/upstream/health_checker.h"
#include "balancer/outlier/outlier.h"
#include "balancer/snapshot.h"
#include "common/log/log.h"

namespace balancer {

namespace {
constexpr uint64_t kTickMs = 100;

const char* balanceName(BalanceKind kind) {
  switch (kind) {
    case BalanceKind::kRoundRobin:
      return "round_robin";
    case BalanceKind::kLeastConn:
      return "least_conn";
    case BalanceKind::kP2C:
      return "p2c";
  }
  return "round_robin";
}

const char* originName(Control::Origin origin) {
  return origin == Control::Origin::kDns ? "dns" : "admin";
}

std::shared_ptr<BackendSet> copySet(const BackendSet& set) {
  auto next = std::make_shared<BackendSet>();
  next->backends = set.backends;
  next->view = set.view;
  return next;
}
}  // namespace

Control::Control(uv_loop_t* loop, Snapshot* snapshot, HealthChecker* checker,
                 std::function<void()> wake_workers)
    : loop_(loop), snapshot_(snapshot), checker_(checker), wake_workers_(std::move(wake_workers)) {}

Control::~Control() = default;

void Control::retarget(Snapshot* snapshot) {
  snapshot_ = snapshot;
  changes_.forgetAbsent(*snapshot);
}

void Control::start() {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, &Control::onTimer, kTickMs, kTickMs);
}

void Control::stop() {
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

void Control::onTimer(uv_timer_t* timer) {
  static_cast<Control*>(timer->data)->tick(outlier::nowMs());
}

Upstream* Control::find(const std::string& name) const {
  for (const auto& u : snapshot_->upstreams()) {
    if (u->config->name == name) {
      return u.get();
    }
  }
  return nullptr;
}

Control::Outcome Control::addBackend(const std::string& upstream, const std::string& address,
                                     int weight, Origin origin) {
  Upstream* u = find(upstream);
  if (u == nullptr) {
    return {404, "unknown upstream '" + upstream + "'"};
  }
  if (weight < 1 || weight > 1000) {
    return {400, "weight must be an integer from 1 to 1000"};
  }
  std::string error;
  auto parsed = util::parseSocketAddress(address, &error);
  if (!parsed) {
    return {400, "bad address '" + address + "': " + error};
  }
  if (origin == Origin::kDns) {
    auto it = changes_.changes().find({upstream, parsed->text});
    if (it != changes_.changes().end() && it->second.kind == RuntimeChanges::Kind::kRemoved) {
      return {409, "backend " + parsed->text + " was removed through the admin API"};
    }
  }
  auto current = u->backends();
  for (const auto& b : current->backends) {
    if (b->address.text == parsed->text) {
      return {409, "backend " + parsed->text + (b->draining.load() ? " is draining" : " exists")};
    }
  }
  auto backend = std::make_shared<Backend>(*parsed, weight);
  bool checked = u->config->health_check.has_value();
  backend->healthy.store(!checked);
  if (!checked) {
    outlier::beginSlowStart(*u, backend.get(), outlier::nowMs());
  }
  was_healthy_[backend.get()] = !checked;
  auto next = copySet(*current);
  next->backends.push_back(backend);
  next->view.push_back(backend.get());
  u->publish(std::move(next));
  if (checker_ != nullptr) {
    checker_->watch(*u, backend);
  }
  if (origin == Origin::kAdmin) {
    changes_.added(upstream, parsed->text, weight);
  }
  LOG_INFO("%s: upstream=%s backend=%s added weight=%d%s", originName(origin), upstream.c_str(),
           parsed->text.c_str(), weight, checked ? " (down until its health check passes)" : "");
  wake_workers_();
  return {201, ""};
}

// The backend `address` of `upstream`, or null with *missing set to the 404 that says which.
std::shared_ptr<Backend> Control::findBackend(const std::string& upstream,
                                              const std::string& address, Outcome* missing) const {
  Upstream* u = find(upstream);
  if (u == nullptr) {
    *missing = {404, "unknown upstream '" + upstream + "'"};
    return nullptr;
  }
  auto backend = u->backends()->find(address);
  if (!backend) {
    *missing = {404, "no backend " + address + " in upstream '" + upstream + "'"};
  }
  return backend;
}

Control::Outcome Control::removeBackend(const std::string& upstream, const std::string& address,
                                        Origin origin) {
  Outcome missing;
  std::shared_ptr<Backend> backend = findBackend(upstream, address, &missing);
  if (!backend) {
    return missing;
  }
  if (!backend->draining.exchange(true)) {
    if (origin == Origin::kAdmin) {
      changes_.removed(upstream, address);
    }
    LOG_INFO("%s: upstream=%s backend=%s draining (%lld in flight)", originName(origin),
             upstream.c_str(), address.c_str(), static_cast<long long>(backend->inFlight()));
  }
  tick(outlier::nowMs());  // an idle backend leaves at once
  return {202, ""};
}

Control::Outcome Control::setWeight(const std::string& upstream, const std::string& address,
                                    int weight) {
  Outcome missing;
  std::shared_ptr<Backend> backend = findBackend(upstream, address, &missing);
  if (!backend) {
    return missing;
  }
  if (weight < 1 || weight > 1000) {
    return {400, "weight must be an integer from 1 to 1000"};
  }
  backend->weight.store(weight);
  if (backend->slow_start_begin_ms.load() == 0) {
    backend->effective_weight.store(weight * Backend::kWeightScale);
  }  // else the next tick scales the new weight
  changes_.weighted(upstream, address, weight);
  LOG_INFO("admin: upstream=%s backend=%s weight=%d", upstream.c_str(), address.c_str(), weight);
  return {200, ""};
}

void Control::tick(int64_t now_ms) {
  bool changed = false;
  for (const auto& u : snapshot_->upstreams()) {
    auto current = u->backends();
    bool removing = false;
    for (const auto& b : current->backends) {
      if (b->draining.load() && b->inFlight() == 0) {
        removing = true;
        continue;
      }
      outlier::maybeReadmit(*u, b.get(), now_ms);
      bool healthy = b->healthy.load();
      auto it = was_healthy_.find(b.get());
      if (it == was_healthy_.end()) {
        was_healthy_[b.get()] = healthy;
      } else if (healthy != it->second) {
        it->second = healthy;
        if (healthy && it != was_healthy_.end()) {
          outlier::beginSlowStart(*u, b.get(), now_ms);  // back from down: ramp up
        }
      }
      outlier::updateSlowStart(*u, b.get(), now_ms);
    }
    if (!removing) {
      continue;
    }
    auto next = std::make_shared<BackendSet>();
    for (const auto& b : current->backends) {
      if (b->draining.load() && b->inFlight() == 0) {
        LOG_INFO("admin: upstream=%s backend=%s drained and removed", u->config->name.c_str(),
                 b->address.text.c_str());
        if (checker_ != nullptr) {
          checker_->unwatch(b.get());
        }
        was_healthy_.erase(b.get());
        continue;
      }
      next->backends.push_back(b);
      next->view.push_back(b.get());
    }
    u->publish(std::move(next));
    changed = true;
  }
  if (changed) {
    wake_workers_();
  }
}

std::string Control::upstreamsJson() const {
  nlohmann::json upstreams = nlohmann::json::array();
  auto now_ms = static_cast<int64_t>(uv_hrtime() / 1000000);  // the clock the workers record with
  for (const auto& u : snapshot_->upstreams()) {
    nlohmann::json backends = nlohmann::json::array();
    auto set = u->backends();
    for (const auto& b : set->backends) {
      LatencyWindow::Summary window = b->latency.summarize(now_ms);
      backends.push_back({
          {"address", b->address.text},
          {"weight", b->weight.load()},
          {"effective_weight", static_cast<double>(b->effectiveWeight()) / Backend::kWeightScale},
          {"healthy", b->healthy.load()},
          {"draining", b->draining.load()},
          {"ejected", b->ejected.load()},
          {"ejections", b->ejections.load()},
          {"in_flight", b->inFlight()},
          {"requests", b->requests()},
          {"errors", b->errors()},
          {"requests_per_second_1m", window.seconds > 0 ? window.count / window.seconds : 0.0},
          {"p99_ms_1m", window.p99_ms},
      });
    }
    upstreams.push_back({{"name", u->config->name},
                         {"balance", balanceName(u->config->balance)},
                         {"health_check", u->config->health_check.has_value()},
                         {"outlier_detection", u->config->outlier_detection.has_value()},
                         {"backends", std::move(backends)}});
  }
  return nlohmann::json{{"upstreams", std::move(upstreams)}}.dump();
}

}  // namespace balancer
