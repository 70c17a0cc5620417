#pragma once

#include <cstdint>

namespace balancer::rate_limit {

// A route's limit: `rate` tokens per second flow into a bucket that holds at most `burst`.
// Both must be positive; a burst below 1 would refuse every request.
struct Limit {
  double rate = 0;
  double burst = 0;
};

// The answer to one request, with what the 429 and RateLimit-* headers need.
struct Decision {
  bool allowed = false;
  int64_t remaining = 0;       // whole tokens left after this request
  int64_t retry_after_ms = 0;  // 0 when allowed; else until one token is back
  int64_t reset_ms = 0;        // until the bucket is full again
};

// One key's bucket. A bucket that does not exist yet is full: see fullBucket().
struct Bucket {
  double tokens = 0;
  int64_t updated_ms = 0;
};

Bucket fullBucket(const Limit& limit, int64_t now_ms);

// Refills `bucket` for the time since it was last updated, then takes one token if there is
// one. `now_ms` is any monotonic clock in milliseconds; a `now_ms` older than the bucket's
// last update refills nothing (two threads' clocks may disagree by a little). Pure: the
// same math runs as Lua inside Redis for global limits (redis_limiter.cc).
Decision take(Bucket& bucket, const Limit& limit, int64_t now_ms);

// Header values in whole seconds, rounded up so a client that waits that long succeeds:
// `Retry-After` (at least 1 on a denial) and `RateLimit-Reset`.
int64_t retryAfterSeconds(const Decision& decision);
int64_t resetSeconds(const Decision& decision);

}  // namespace balancer::rate_limit
