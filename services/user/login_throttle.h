#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/metrics/exposition.h"
#include "common/redis/client.h"

namespace user_service {

// Login attempts per account, counted in Redis so that every user-service instance sees the
// same count wherever the attempts come from (one client, or a botnet each trying once).
// An attempt counts when it begins (so attempts sent at once cannot all pass before the
// first failure is known). From the `max_failures`-th attempt without a success, the account
// is locked for `backoff`, doubled at each further attempt up to `max_backoff`; while locked,
// logins answer 429 with Retry-After without checking the password (the lock is what a brute
// force hits, not argon2). A success clears the count; so does `window` without an attempt.
//
// Key: login:failures:{HASH}, HASH = kit::keyHash of the normalised account name (trimmed,
// ASCII lower case, as PostgreSQL's lower(email) finds the row), so unknown and known
// accounts are treated alike and the key's size is fixed. It always has a TTL.
//
// Redis down or slow: the check lets the login through (the balancer's per-IP rate limit on
// the login route still holds) and the failure is not counted; counted in a metric.
class LoginThrottle {
 public:
  struct Options {
    int64_t max_failures = 5;      // login.max_failures
    uint64_t backoff_ms = 1000;    // login.backoff: the first lock
    uint64_t max_backoff_ms = 15 * 60 * 1000;  // login.max_backoff
    uint64_t window_ms = 15 * 60 * 1000;       // login.failure_window
  };
  // 0: may try now; else how long the account stays locked.
  using CheckDone = std::function<void(uint64_t locked_ms)>;

  LoginThrottle(redis::Client& redis, Options options);

  static std::string key(std::string_view account);

  // Counts an attempt: done(0) when it may go on, else done(the lock's time left).
  void check(std::string_view account, CheckDone done);
  void succeeded(std::string_view account);

  void collect(metrics::Exposition& out) const;

 private:
  redis::Client& redis_;
  Options options_;
  uint64_t locked_ = 0;
  uint64_t unavailable_ = 0;
};

}  // namespace user_service
