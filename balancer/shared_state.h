#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "balancer/jwks/jwks_fetcher.h"
#include "balancer/rate_limit/local_limiter.h"
#include "common/jwt/verifier.h"

namespace balancer {

// What the workers share besides the immutable snapshot: things replaced at run time, on
// SIGHUP. Workers notice a change through a generation counter read with a relaxed load, so
// the request path takes the shared pointer's internal lock only after a reload.
class SharedState {
 public:
  void setVerifier(std::shared_ptr<const jwt::Verifier> verifier) {
    verifier_.store(std::move(verifier));
    verifier_generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const jwt::Verifier> verifier() const { return verifier_.load(); }
  uint64_t verifierGeneration() const {
    return verifier_generation_.load(std::memory_order_acquire);
  }
  // The fetcher of jwt.jwks_url's keys; null with a jwks_file.
  void setKeyFetcher(std::shared_ptr<jwks::JwksFetcher> fetcher) {
    key_fetcher_.store(std::move(fetcher));
  }
  // A token named a kid the keys lack: they may have rotated, so fetch them early (the
  // fetcher spaces such fetches). No-op with a jwks_file.
  void refetchKeys() {
    if (auto fetcher = key_fetcher_.load()) {
      fetcher->refetchSoon();
    }
  }
  // Buckets of scope: local limits, shared by every worker of this process.
  rate_limit::LocalLimiter& localLimiter() { return local_limiter_; }

 private:
  std::atomic<std::shared_ptr<const jwt::Verifier>> verifier_;
  std::atomic<uint64_t> verifier_generation_{0};
  std::atomic<std::shared_ptr<jwks::JwksFetcher>> key_fetcher_;
  rate_limit::LocalLimiter local_limiter_;
};

}  // namespace balancer
