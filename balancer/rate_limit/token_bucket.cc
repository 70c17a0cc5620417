#include "balancer/rate_limit/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace balancer::rate_limit {

namespace {
// Refill arithmetic is in doubles: a token that is due at t may compute as 0.9999999999 at
// t. The slack makes the request at exactly retry_after succeed, as its header promised.
constexpr double kSlack = 1e-9;

int64_t msUntil(double tokens_missing, double rate) {
  if (tokens_missing <= kSlack) {
    return 0;
  }
  return static_cast<int64_t>(std::ceil(tokens_missing * 1000.0 / rate));
}
}  // namespace

Bucket fullBucket(const Limit& limit, int64_t now_ms) { return Bucket{limit.burst, now_ms}; }

Decision take(Bucket& bucket, const Limit& limit, int64_t now_ms) {
  if (now_ms > bucket.updated_ms) {
    double elapsed = static_cast<double>(now_ms - bucket.updated_ms);
    bucket.tokens += elapsed * limit.rate / 1000.0;
    bucket.updated_ms = now_ms;
  }
  // Also clamps a bucket whose burst was lowered by a config reload.
  bucket.tokens = std::min(bucket.tokens, limit.burst);

  Decision d;
  if (bucket.tokens + kSlack >= 1.0) {
    bucket.tokens = std::max(bucket.tokens - 1.0, 0.0);
    d.allowed = true;
  } else {
    d.retry_after_ms = std::max<int64_t>(msUntil(1.0 - bucket.tokens, limit.rate), 1);
  }
  d.remaining = static_cast<int64_t>(std::floor(bucket.tokens + kSlack));
  d.reset_ms = msUntil(limit.burst - bucket.tokens, limit.rate);
  return d;
}

int64_t retryAfterSeconds(const Decision& decision) {
  if (decision.allowed) {
    return 0;
  }
  return std::max<int64_t>((decision.retry_after_ms + 999) / 1000, 1);
}

int64_t resetSeconds(const Decision& decision) { return (decision.reset_ms + 999) / 1000; }

}  // namespace balancer::rate_limit
