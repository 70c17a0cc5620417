#include "balancer/filters/rate_limit.h"

#include "balancer/metrics/worker_metrics.h"
#include "balancer/rate_limit/local_limiter.h"
#include "balancer/rate_limit/redis_limiter.h"
#include "balancer/rate_limit/token_bucket.h"

namespace balancer::filters {

namespace {

// The bucket's state as RateLimit-* header lines: on the 429, and on every response the limit
// let through, so a client can slow down before it is refused.
std::string limitHeaders(const rate_limit::Decision& decision, const RateLimitConfig& limit) {
  std::string h = "RateLimit-Limit: ";
  h.append(std::to_string(static_cast<int64_t>(limit.burst)));
  h.append("\r\nRateLimit-Remaining: ").append(std::to_string(decision.remaining));
  h.append("\r\nRateLimit-Reset: ").append(std::to_string(rate_limit::resetSeconds(decision)));
  h.append("\r\n");
  return h;
}

Verdict decide(const rate_limit::Decision& decision, const RateLimitConfig& limit, int route,
               WorkerMetrics& metrics) {
  if (decision.allowed) {
    return Verdict::next(limitHeaders(decision, limit));
  }
  std::string h = "Retry-After: ";
  h.append(std::to_string(rate_limit::retryAfterSeconds(decision))).append("\r\n");
  h.append(limitHeaders(decision, limit));
  metrics.countRateLimited(route);
  return Verdict::reply(429, "rate limited", std::move(h));
}

}  // namespace

Verdict RateLimit::onRequestHead(FilterContext& ctx) {
  const RequestFacts& req = ctx.request;
  std::string& key = *ctx.out.limit_key;
  key.assign(std::to_string(req.route)).push_back(':');
  switch (limit_.key) {
    case RateLimitConfig::Key::kIp:
      key.append(req.client_ip);
      break;
    case RateLimitConfig::Key::kUser: {
      // A user's bucket is marked as one: a sub that reads like an address must not share
      // the anonymous bucket of that address.
      const std::string& user = *ctx.out.user;
      if (user.empty()) {
        key.append(req.client_ip);
      } else {
        key.append("u:").append(user);
      }
      break;
    }
    case RateLimitConfig::Key::kRoute:
      break;
  }
  if (limit_.scope == RateLimitConfig::Scope::kLocal) {
    rate_limit::Decision decision =
        ctx.services->localLimiter().check(key, {limit_.rate, limit_.burst});
    return decide(decision, limit_, req.route, *ctx.metrics);
  }
  rate_limit::RedisLimiter* redis = ctx.services->redisLimiter();
  if (redis == nullptr) {
    return Verdict::reply(503, "rate limiter unavailable");  // the config requires redis
  }
  // The answer may come after the client left (and this snapshot with it): the callback
  // keeps copies of what it needs, and touches the services only while the exchange lives.
  Resumer resumer = ctx.host->pauseExchange();
  RateLimitConfig limit = limit_;
  bool fail_open = fail_open_;
  int route = req.route;
  FilterServices* services = ctx.services;
  WorkerMetrics* metrics = ctx.metrics;
  redis->check(key, limit.rate, limit.burst,
               [=](const rate_limit::RedisLimiter::Outcome& outcome) {
                 if (!resumer.alive()) {
                   return;
                 }
                 if (outcome.available) {
                   resumer.resume(decide(outcome.decision, limit, route, *metrics));
                   return;
                 }
                 services->countRateLimitUnavailable();
                 // Redis down or slow: serve rather than hold or refuse every client.
                 resumer.resume(fail_open ? Verdict::next()
                                          : Verdict::reply(503, "rate limiter unavailable"));
               });
  return Verdict::pause();
}

}  // namespace balancer::filters
