#include "balancer/rate_limit/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace balancer::rate_limit {

namespace {
// Decisions are taken in time, not in tokens: a token is there when the wait for it is at
// most kSlackMs. Doubles make a token due at t compute as 0.9999999999 at t; the slack
// (far above that error, far below a millisecond) makes a request at exactly the promised
// retry_after succeed.
constexpr double kSlackMs = 1e-6;

double waitMs(double tokens_missing, const Limit& limit) {
  return tokens_missing * 1000.0 / limit.rate;
}

int64_t wholeMs(double ms) {
  return ms <= kSlackMs ? 0 : static_cast<int64_t>(std::ceil(ms - kSlackMs));
}
}  // namespace

Bucket fullBucket(const Limit& limit, int64_t now_ms) { return Bucket{limit.burst, now_ms}; }

Decision take(Bucket& bucket, const Limit& limit, int64_t now_ms) {
  if (now_ms > bucket.updated_ms) {
    bucket.tokens += static_cast<double>(now_ms - bucket.updated_ms) * limit.rate / 1000.0;
    bucket.updated_ms = now_ms;
  }
  // Also clamps a bucket whose burst was lowered by a config reload.
  bucket.tokens = std::min(bucket.tokens, limit.burst);

  Decision d;
  double wait = waitMs(1.0 - bucket.tokens, limit);
  if (wait <= kSlackMs) {
    bucket.tokens = std::max(bucket.tokens - 1.0, 0.0);
    d.allowed = true;
  } else {
    d.retry_after_ms = wholeMs(wait);
  }
  d.remaining = static_cast<int64_t>(std::floor(bucket.tokens + 1e-9));
  d.reset_ms = wholeMs(waitMs(limit.burst - bucket.tokens, limit));
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
