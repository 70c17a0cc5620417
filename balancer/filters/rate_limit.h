#pragma once

#include "balancer/config.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's rate_limit: one token from the bucket of the request's key (its client address,
// its token's user, or the route). A local limit is this balancer's shared table; a global
// one asks Redis and pauses the exchange until it answers (the body waits meanwhile, as it
// does while an upstream connects). 429 with Retry-After and RateLimit-* when the bucket is
// empty. When Redis cannot answer: served (fail_open, counted) or 503.
class RateLimit final : public Filter {
 public:
  RateLimit(RateLimitConfig limit, bool fail_open) : limit_(limit), fail_open_(fail_open) {}
  std::string_view name() const override { return "rate_limit"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  RateLimitConfig limit_;
  bool fail_open_;
};

}  // namespace balancer::filters
