#include "balancer/filters/rate_limit.h"

#include "balancer/metrics/worker_metrics.h"
#include "balancer/rate_limit/local_limiter.h"
#include "balancer/rate_limit/redis_limiter.h"
#include "balancer/rate_limit/token_bucket.h"
#include "common/util/cidr.h"

#include <arpa/inet.h>

#include <algorithm>

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

// The client's bucket name: its address, or for IPv6 its network of `prefix` bits ("2001:db8:1:2::/64"),
// since one host is given a whole /64 and could rotate through it.
void appendClient(std::string_view ip, int prefix, std::string* key) {
  if (ip.find(':') == std::string_view::npos || prefix >= 128) {
    key->append(ip);
    return;
  }
  auto address = util::IpAddress::parse(ip);
  if (!address || address->v4) {
    key->append(ip);  // an IPv4 client on a dual-stack socket: per address
    return;
  }
  for (int i = 0; i < 16; ++i) {
    int keep = std::min(8, std::max(0, prefix - 8 * i));
    address->bytes[static_cast<size_t>(i)] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, address->bytes.data(), text, sizeof text) == nullptr) {
    key->append(ip);
    return;
  }
  key->append(text).push_back('/');
  key->append(std::to_string(prefix));
}

}  // namespace

Verdict RateLimit::onRequestHead(FilterContext& ctx) {
  const RequestFacts& req = ctx.request;
  if (req.background) {
    // The balancer's own request (a cache refresh, once per key): no client's tokens to spend,
    // and a refusal would only leave the stale object unrefreshed.
    return Verdict::next();
  }
  std::string& key = *ctx.out.limit_key;
  key.assign(std::to_string(req.route)).push_back(':');
  switch (limit_.key) {
    case RateLimitConfig::Key::kIp:
      appendClient(req.client_ip, limit_.ipv6_prefix, &key);
      break;
    case RateLimitConfig::Key::kUser: {
      // A user's bucket is marked as one: a sub that reads like an address must not share
      // the anonymous bucket of that address.
      const std::string& user = *ctx.out.user;
      if (user.empty()) {
        appendClient(req.client_ip, limit_.ipv6_prefix, &key);
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
  RedisConfig::OnUnavailable on_unavailable = on_unavailable_;
  int route = req.route;
  FilterServices* services = ctx.services;
  WorkerMetrics* metrics = ctx.metrics;
  redis->check(key, limit.rate, limit.burst,
               [=, key = key](const rate_limit::RedisLimiter::Outcome& outcome) {
                 if (!resumer.alive()) {
                   return;
                 }
                 if (outcome.available) {
                   resumer.resume(decide(outcome.decision, limit, route, *metrics));
                   return;
                 }
                 services->countRateLimitUnavailable();
                 metrics->countLimitUnavailable(route);
                 switch (on_unavailable) {
                   case RedisConfig::OnUnavailable::kLocal: {
                     // Redis down or slow: the limit still holds, counted by this balancer
                     // alone (N balancers let N times the rate through, not unlimited).
                     rate_limit::Decision d =
                         services->localLimiter().check(key, {limit.rate, limit.burst});
                     resumer.resume(decide(d, limit, route, *metrics));
                     return;
                   }
                   case RedisConfig::OnUnavailable::kAllow:
                     resumer.resume(Verdict::next());
                     return;
                   case RedisConfig::OnUnavailable::kDeny:
                     resumer.resume(Verdict::reply(503, "rate limiter unavailable"));
                     return;
                 }
               });
  return Verdict::pause();
}

}  // namespace balancer::filters
