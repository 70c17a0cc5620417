#include "balancer/outlier/outlier.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "common/log/log.h"

namespace balancer::outlier {

namespace {
// Held only while deciding an ejection (a backend crossing its threshold), so that two
// workers ejecting two backends of one upstream at once cannot both pass the cap.
std::mutex eject_mutex;
}  // namespace

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Millis ejectionTime(const OutlierConfig& config, int n) {
  int64_t base = config.base_ejection_time.count();
  int64_t max = config.max_ejection_time.count();
  int64_t t = base;
  for (int i = 1; i < n && t < max; ++i) {
    t *= 2;
  }
  return Millis(std::min(t, max));
}

int maxEjected(const OutlierConfig& config, size_t total) {
  if (config.max_ejection_percent <= 0 || total == 0) {
    return 0;
  }
  int cap = static_cast<int>(total * static_cast<size_t>(config.max_ejection_percent) / 100);
  return std::max(cap, 1);
}

void recordFailure(const Upstream& upstream, Backend* backend) {
  const auto& config = upstream.config->outlier_detection;
  if (!config) {
    return;
  }
  int n = backend->consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n >= config->consecutive_failures && !backend->ejected.load(std::memory_order_relaxed)) {
    tryEject(upstream, backend, nowMs());
  }
}

bool tryEject(const Upstream& upstream, Backend* backend, int64_t now_ms) {
  const OutlierConfig& config = *upstream.config->outlier_detection;
  std::lock_guard<std::mutex> lock(eject_mutex);
  if (backend->ejected.load() || backend->draining.load()) {
    return false;
  }
  auto set = upstream.backends();
  int ejected = 0;
  for (Backend* b : set->view) {
    ejected += b->ejected.load() ? 1 : 0;
  }
  if (ejected + 1 > maxEjected(config, set->view.size())) {
    backend->consecutive_failures.store(0, std::memory_order_relaxed);
    LOG_WARN("outlier: upstream=%s backend=%s not ejected: %d of %zu already are",
             upstream.config->name.c_str(), backend->address.text.c_str(), ejected,
             set->view.size());
    return false;
  }
  // Ejections count as recent until the backend has stayed in for max_ejection_time.
  int n = backend->recent_ejections.load();
  if (n > 0 && now_ms - backend->readmitted_at_ms.load() > config.max_ejection_time.count()) {
    n = 0;
  }
  ++n;
  Millis duration = ejectionTime(config, n);
  backend->recent_ejections.store(n);
  backend->ejected_at_ms.store(now_ms);
  backend->ejected_until_ms.store(now_ms + duration.count());
  backend->consecutive_failures.store(0);
  backend->ejections.fetch_add(1);
  backend->ejected.store(true);
  LOG_WARN("outlier: upstream=%s backend=%s ejected for %lldms (ejection %d)",
           upstream.config->name.c_str(), backend->address.text.c_str(),
           static_cast<long long>(duration.count()), n);
  return true;
}

bool maybeReadmit(const Upstream& upstream, Backend* backend, int64_t now_ms) {
  if (!backend->ejected.load() || now_ms < backend->ejected_until_ms.load()) {
    return false;
  }
  if (upstream.config->health_check &&
      (!backend->healthy.load() ||
       backend->last_check_ok_ms.load() < backend->ejected_at_ms.load())) {
    return false;  // wait for the active check to pass
  }
  backend->readmitted_at_ms.store(now_ms);
  backend->consecutive_failures.store(0);
  backend->ejected.store(false);
  beginSlowStart(upstream, backend, now_ms);
  LOG_INFO("outlier: upstream=%s backend=%s readmitted", upstream.config->name.c_str(),
           backend->address.text.c_str());
  return true;
}

int64_t slowStartWeight(int weight, int64_t elapsed_ms, int64_t window_ms) {
  int64_t full = int64_t{weight} * Backend::kWeightScale;
  if (window_ms <= 0 || elapsed_ms >= window_ms) {
    return full;
  }
  elapsed_ms = std::max<int64_t>(elapsed_ms, 0);
  // 10% + 90% * elapsed / window of the full weight.
  int64_t w = full / 10 + (full - full / 10) * elapsed_ms / window_ms;
  return std::max<int64_t>(w, 1);
}

void beginSlowStart(const Upstream& upstream, Backend* backend, int64_t now_ms) {
  int64_t window = upstream.config->slow_start.count();
  int weight = backend->weight.load();
  if (window <= 0) {
    backend->slow_start_begin_ms.store(0);
    backend->effective_weight.store(weight * Backend::kWeightScale);
    return;
  }
  backend->slow_start_begin_ms.store(now_ms);
  backend->effective_weight.store(static_cast<int>(slowStartWeight(weight, 0, window)));
}

void updateSlowStart(const Upstream& upstream, Backend* backend, int64_t now_ms) {
  int64_t begin = backend->slow_start_begin_ms.load();
  int weight = backend->weight.load();
  if (begin == 0) {
    return;
  }
  int64_t window = upstream.config->slow_start.count();
  int64_t w = slowStartWeight(weight, now_ms - begin, window);
  backend->effective_weight.store(static_cast<int>(w));
  if (now_ms - begin >= window) {
    backend->slow_start_begin_ms.store(0);
  }
}

}  // namespace balancer::outlier
