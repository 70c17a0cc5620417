#include "balancer/filters/rate_limit.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "filter_fixture.h"

using balancer::RateLimitConfig;
using balancer::filters::RateLimit;
using namespace filters_test;

namespace {
constexpr auto kAllow = balancer::RedisConfig::OnUnavailable::kAllow;
constexpr auto kDeny = balancer::RedisConfig::OnUnavailable::kDeny;
}  // namespace

namespace {

// Slow enough that no token comes back while a test runs.
RateLimitConfig localLimit(double burst, RateLimitConfig::Key key = RateLimitConfig::Key::kIp) {
  RateLimitConfig limit;
  limit.rate = 0.01;
  limit.burst = burst;
  limit.key = key;
  limit.scope = RateLimitConfig::Scope::kLocal;
  return limit;
}

RateLimitConfig globalLimit() {
  RateLimitConfig limit = localLimit(5);
  limit.scope = RateLimitConfig::Scope::kGlobal;
  return limit;
}

// Runs the filter for a request from `ip` on `route` (with `user` set as jwt_auth would).
Verdict from(FilterFixture& f, RateLimit& filter, std::string_view ip, int route = 0,
             std::string_view user = {}) {
  FilterContext& ctx = f.request("/api", {}, route);
  ctx.request.client_ip = ip;
  f.user = std::string(user);
  return filter.onRequestHead(ctx);
}

// The value of header line `name` in `headers` as a number (-1 when absent).
int64_t headerValue(const std::string& headers, const std::string& name) {
  std::string line = name + ": ";
  size_t at = headers.find(line);
  if (at == std::string::npos || (at != 0 && headers[at - 1] != '\n')) {
    return -1;
  }
  return std::stoll(headers.substr(at + line.size()));
}

}  // namespace

TEST_CASE("a local limit allows its burst, then answers 429 with the RateLimit headers",
          "[filters]") {
  FilterFixture f;
  RateLimit filter(localLimit(3), kAllow);
  for (int i = 0; i < 3; ++i) {
    INFO("request " << i);
    Verdict allowed = from(f, filter, "10.0.0.1");
    CHECK(allowed.goesOn());
    // What the response will carry: the bucket's state after this request.
    CHECK(headerValue(allowed.headers, "RateLimit-Limit") == 3);
    CHECK(headerValue(allowed.headers, "RateLimit-Remaining") == 2 - i);
    CHECK(headerValue(allowed.headers, "RateLimit-Reset") >= 0);
    CHECK(headerValue(allowed.headers, "Retry-After") == -1);
  }
  CHECK(f.rateLimited(0) == 0);

  Verdict v = from(f, filter, "10.0.0.1");
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 429);
  CHECK(v.message == "rate limited");
  CHECK_FALSE(v.close);
  int64_t retry_after = headerValue(v.headers, "Retry-After");
  CHECK(retry_after >= 99);  // one token at 0.01 per second
  CHECK(retry_after <= 100);
  CHECK(headerValue(v.headers, "RateLimit-Limit") == 3);
  CHECK(headerValue(v.headers, "RateLimit-Remaining") == 0);
  int64_t reset = headerValue(v.headers, "RateLimit-Reset");
  CHECK(reset >= 299);  // three tokens
  CHECK(reset <= 300);
  CHECK(v.headers.size() >= 2);
  CHECK(v.headers.compare(v.headers.size() - 2, 2, "\r\n") == 0);
  CHECK(f.rateLimited(0) == 1);
  CHECK(f.rateLimited(1) == 0);

  CHECK(from(f, filter, "10.0.0.1").status == 429);
  CHECK(f.rateLimited(0) == 2);
  CHECK(f.host.pauses == 0);  // a local limit never pauses
}

TEST_CASE("under key ip each client address has its own bucket", "[filters]") {
  FilterFixture f;
  RateLimit filter(localLimit(1, RateLimitConfig::Key::kIp), kAllow);
  CHECK(from(f, filter, "10.0.0.1").goesOn());
  CHECK(f.limit_key == "0:10.0.0.1");
  CHECK(from(f, filter, "10.0.0.1").status == 429);
  CHECK(from(f, filter, "10.0.0.2").goesOn());
  CHECK(from(f, filter, "10.0.0.2").status == 429);
  // The same address on another route: that route's bucket.
  CHECK(from(f, filter, "10.0.0.1", 1).goesOn());
  CHECK(f.limit_key == "1:10.0.0.1");
  CHECK(f.rateLimited(0) == 2);
  CHECK(f.rateLimited(1) == 0);
}

TEST_CASE("the balancer's own background request (a cache refresh) spends no client's tokens",
          "[filters]") {
  FilterFixture f;
  RateLimit filter(localLimit(1, RateLimitConfig::Key::kIp), kAllow);
  for (int i = 0; i < 3; ++i) {
    FilterContext& ctx = f.request("/api", {}, 0);
    ctx.request.client_ip = "10.0.0.1";
    ctx.request.background = true;
    CHECK(filter.onRequestHead(ctx).goesOn());
  }
  CHECK(from(f, filter, "10.0.0.1").goesOn());  // the client's own token is still there
  CHECK(from(f, filter, "10.0.0.1").status == 429);
}

TEST_CASE("under key route every client shares the route's bucket", "[filters]") {
  FilterFixture f;
  RateLimit filter(localLimit(2, RateLimitConfig::Key::kRoute), kAllow);
  CHECK(from(f, filter, "10.0.0.1").goesOn());
  CHECK(f.limit_key == "0:");
  CHECK(from(f, filter, "10.0.0.2").goesOn());
  CHECK(from(f, filter, "10.0.0.3").status == 429);
  CHECK(from(f, filter, "10.0.0.3", 1).goesOn());  // another route
}

TEST_CASE("under key user the token's sub chooses the bucket, else the address",
          "[filters]") {
  FilterFixture f;
  RateLimit filter(localLimit(1, RateLimitConfig::Key::kUser), kAllow);
  CHECK(from(f, filter, "10.0.0.1", 0, "alice").goesOn());
  CHECK(f.limit_key == "0:u:alice");
  // alice from another address: her bucket is empty.
  CHECK(from(f, filter, "10.0.0.2", 0, "alice").status == 429);
  // bob from alice's first address: his own.
  CHECK(from(f, filter, "10.0.0.1", 0, "bob").goesOn());
  // Anonymous (jwt_optional without a token): by address.
  CHECK(from(f, filter, "10.0.0.1").goesOn());
  CHECK(f.limit_key == "0:10.0.0.1");
  CHECK(from(f, filter, "10.0.0.1").status == 429);
  // A sub that reads like an address has a bucket of its own, not that address's.
  CHECK(from(f, filter, "10.0.0.9", 0, "10.0.0.1").goesOn());
}

TEST_CASE("a global limit with Redis down, on_unavailable: allow: paused, then resumed to go on",
          "[filters]") {
  FilterFixture f;
  RateLimit filter(globalLimit(), kAllow);
  FilterContext& ctx = f.request("/api", {}, 1);
  Verdict v = filter.onRequestHead(ctx);
  CHECK(v.action == Verdict::Action::kPause);
  CHECK(f.host.pauses == 1);
  // Redis is not connected: the answer came inside check(), before the filter returned.
  REQUIRE(f.host.resumed.size() == 1);
  CHECK(f.host.resumed[0].exchange == f.host.exchange);
  CHECK(f.host.resumed[0].verdict.goesOn());
  CHECK(f.services.unavailable == 1);
  CHECK(f.rateLimited(1) == 0);
  CHECK(f.limit_key == "1:10.0.0.1");
}

TEST_CASE("a global limit with Redis down fails closed with 503 when told to", "[filters]") {
  FilterFixture f;
  RateLimit filter(globalLimit(), kDeny);
  Verdict v = filter.onRequestHead(f.request("/api"));
  CHECK(v.action == Verdict::Action::kPause);
  REQUIRE(f.host.resumed.size() == 1);
  const Verdict& resumed = f.host.resumed[0].verdict;
  CHECK(resumed.action == Verdict::Action::kReply);
  CHECK(resumed.status == 503);
  CHECK(resumed.message == "rate limiter unavailable");
  CHECK(f.services.unavailable == 1);
  CHECK(f.rateLimited(0) == 0);  // not a denial
}

TEST_CASE("a global limit whose client has left touches nothing when Redis answers",
          "[filters]") {
  FilterFixture f;
  f.host.leave();  // the Resumer the filter gets is dead from the start
  RateLimit filter(globalLimit(), kAllow);
  CHECK(filter.onRequestHead(f.request("/api")).action == Verdict::Action::kPause);
  CHECK(f.host.resumed.empty());
  CHECK(f.services.unavailable == 0);
}

TEST_CASE("a global limit without a Redis limiter answers 503 at once", "[filters]") {
  FilterFixture f;
  f.services.without_redis = true;
  RateLimit filter(globalLimit(), kAllow);
  Verdict v = filter.onRequestHead(f.request("/api"));
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 503);
  CHECK(f.host.pauses == 0);
  CHECK(f.host.resumed.empty());
}
