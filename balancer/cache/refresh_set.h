#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "balancer/cache/cache_key.h"

namespace balancer::cache {

// The stale-while-revalidate refreshes in progress, per primary key: one at a time for a key,
// whichever worker serves the stale object (RFC 5861: "once"). A refresh that never reports
// its end (its request was refused before the cache saw it) stops counting after `kStuckMs`.
class RefreshSet {
 public:
  static constexpr int64_t kStuckMs = 30000;

  // Whether the caller starts the refresh for `primary` (none is running).
  bool begin(const Key& primary, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = started_.try_emplace(primary, now_ms);
    if (!inserted && now_ms - it->second < kStuckMs) {
      return false;
    }
    it->second = now_ms;
    return true;
  }
  void end(const Key& primary) {
    std::lock_guard<std::mutex> lock(mu_);
    started_.erase(primary);
  }
  size_t running() const {
    std::lock_guard<std::mutex> lock(mu_);
    return started_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<Key, int64_t, KeyHash> started_;
};

}  // namespace balancer::cache
