#pragma once

#include "balancer/config.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's rate_limit: one token from the bucket of the request's key (its client address,
// its token's user, or the route). A local limit is this balancer's shared table; a global
// one asks Redis and pauses the exchange until it answers (the body waits meanwhile, as it
// does while an upstream connects). 429 with Retry-After and RateLimit-* when the bucket is
// empty. When Redis cannot answer (counted): redis.on_unavailable says, by default this
// balancer applies the limit alone (local), else it serves everyone (allow) or 503 (deny).
// key: ip counts an IPv6 client by its /64 (ipv6_prefix).
class RateLimit final : public Filter {
 public:
  RateLimit(RateLimitConfig limit, RedisConfig::OnUnavailable on_unavailable)
      : limit_(limit), on_unavailable_(on_unavailable) {}
  std::string_view name() const override { return "rate_limit"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  RateLimitConfig limit_;
  RedisConfig::OnUnavailable on_unavailable_;
};

}  // namespace balancer::filters
