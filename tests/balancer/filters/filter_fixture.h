#pragma once

// A place to run filters without a worker or a socket: real services (token cache, verifier
// with the JWT tests' keys, local limiter, a Redis limiter whose Redis is not there), a
// WorkerMetrics to read counts back from, and a ChainHost that records what it is told.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../../jwt/test_keys.h"
#include "balancer/config.h"
#include "balancer/filters/filter.h"
#include "balancer/metrics/worker_metrics.h"
#include "balancer/rate_limit/local_limiter.h"
#include "balancer/rate_limit/redis_limiter.h"
#include "balancer/routing/router.h"
#include "common/compress/encoder_pool.h"
#include "common/http/header_list.h"
#include "common/jwt/token_cache.h"
#include "common/jwt/verifier.h"

namespace filters_test {

using balancer::filters::ChainHost;
using balancer::filters::FilterContext;
using balancer::filters::Resumer;
using balancer::filters::Verdict;

// A loopback port nothing listens on (bound once to learn a free one, then closed).
inline int closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A token signed with the test keys' HS256 secret (kid h1), for issuer "iss" and audience
// "aud", with `extra` claims merged in (they may override sub and exp).
inline std::string tokenFor(const nlohmann::json& extra,
                            std::string_view secret = jwt_test::kSecret) {
  nlohmann::json payload = {{"iss", "iss"},
                            {"aud", "aud"},
                            {"sub", "alice"},
                            {"exp", static_cast<int64_t>(time(nullptr)) + 3600}};
  if (extra.is_object()) {  // `{}` arrives as null
    payload.update(extra);
  }
  return jwt_test::hs256({{"alg", "HS256"}, {"kid", "h1"}}, payload, secret);
}

class TestServices final : public balancer::filters::FilterServices {
 public:
  TestServices() : token_cache_(64) {
    std::string error;
    std::optional<jwt::KeySet> keys = jwt::KeySet::parse(jwt_test::allKeys(), &error);
    REQUIRE(keys);
    jwt::Options options;
    options.issuer = "iss";
    options.audience = "aud";
    verifier_ = std::make_unique<jwt::Verifier>(
        std::make_shared<const jwt::KeySet>(std::move(*keys)), options);
    REQUIRE(uv_loop_init(&loop_) == 0);
    balancer::rate_limit::RedisLimiter::Options redis;
    redis.port = closedPort();
    redis_ = std::make_unique<balancer::rate_limit::RedisLimiter>(&loop_, redis);
  }
  ~TestServices() override {
    redis_->close();
    redis_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // frees the limiter's handles
    uv_loop_close(&loop_);
  }
  TestServices(const TestServices&) = delete;
  TestServices& operator=(const TestServices&) = delete;

  const jwt::Verifier* verifier() override { return verifier_.get(); }
  jwt::TokenCache& tokenCache() override { return token_cache_; }
  balancer::rate_limit::LocalLimiter& localLimiter() override { return local_; }
  balancer::rate_limit::RedisLimiter* redisLimiter() override {
    return without_redis ? nullptr : redis_.get();
  }
  void countRateLimitUnavailable() override { ++unavailable; }
  void refetchKeys() override { ++refetches; }
  uv_loop_t* loop() override { return &loop_; }
  compression::EncoderPool& encoderPool() override { return encoder_pool; }

  uint64_t unavailable = 0;    // countRateLimitUnavailable() calls
  uint64_t refetches = 0;      // refetchKeys() calls
  bool without_redis = false;  // as a worker with no redis section
  compression::EncoderPool encoder_pool;

 private:
  jwt::TokenCache token_cache_;
  std::unique_ptr<jwt::Verifier> verifier_;
  balancer::rate_limit::LocalLimiter local_;
  uv_loop_t loop_;
  std::unique_ptr<balancer::rate_limit::RedisLimiter> redis_;
};

// The session's part: hands out Resumers on a liveness token and records resumed verdicts.
class FakeHost final : public ChainHost {
 public:
  struct Resumed {
    uint64_t exchange;
    Verdict verdict;
  };

  Resumer pauseExchange() override {
    ++pauses;
    return Resumer(alive_, exchange);
  }
  void onFilterResumed(uint64_t ex, Verdict verdict) override {
    resumed.push_back({ex, std::move(verdict)});
  }
  bool startBackground(std::string request_head, std::function<void()> done) override {
    background.push_back(std::move(request_head));
    background_done.push_back(std::move(done));
    return true;
  }
  // The client left: Resumers handed out so far go quiet.
  void leave() { *alive_ = nullptr; }

  uint64_t exchange = 7;
  int pauses = 0;
  std::vector<Resumed> resumed;
  std::vector<std::string> background;  // request heads the filters sent on their own
  std::vector<std::function<void()>> background_done;  // each ends its refresh

 private:
  std::shared_ptr<ChainHost*> alive_ = std::make_shared<ChainHost*>(this);
};

// A config with `routes` bare routes (one upstream, one listener), for WorkerMetrics.
inline balancer::Config configWithRoutes(size_t routes) {
  balancer::Config config;
  config.listeners.emplace_back();
  config.upstreams.emplace_back();
  config.routes.resize(routes);
  return config;
}

// One request's worth of everything a FilterContext points at.
class FilterFixture {
 public:
  explicit FilterFixture(size_t routes = 2) : config(configWithRoutes(routes)), metrics(config) {}

  // Sets up a request with `raw_target` and header fields (name, value), routed to `route`
  // (its target split as the session splits it), and returns the context to run filters on.
  FilterContext& request(std::string_view raw_target,
                         std::initializer_list<std::pair<std::string, std::string>> fields = {},
                         int route = 0) {
    headers.clear();
    for (const auto& [name, value] : fields) {
      headers.appendName(name.data(), name.size());
      headers.endName();
      headers.appendValue(value.data(), value.size());
    }
    target = std::string(raw_target);
    user.clear();
    identity.clear();
    limit_key.clear();
    ctx = FilterContext{};
    ctx.request.headers = &headers;
    ctx.request.method = method;
    ctx.request.raw_target = target;
    ctx.request.target =
        balancer::splitTarget(target, headers.find(http::HeaderKind::kHost), &path);
    ctx.request.client_ip = "10.0.0.1";
    ctx.request.route = route;
    ctx.out.user = &user;
    ctx.out.identity_headers = &identity;
    ctx.out.limit_key = &limit_key;
    response_headers.clear();
    ctx.out.response_headers = &response_headers;
    replaced_response_headers.clear();
    ctx.out.replaced_response_headers = &replaced_response_headers;
    dropped_request_headers.clear();
    ctx.out.dropped_request_headers = &dropped_request_headers;
    ctx.services = &services;
    ctx.metrics = &metrics;
    ctx.host = &host;
    return ctx;
  }

  uint64_t jwtRejected(int route, std::string_view reason) {
    for (size_t i = 0; i < balancer::kJwtReasons.size(); ++i) {
      if (balancer::kJwtReasons[i] == reason) {
        return metrics.route(route).jwt_rejected[i].get();
      }
    }
    FAIL("no such reason: " << reason);
    return 0;
  }
  uint64_t rateLimited(int route) { return metrics.route(route).rate_limited.get(); }

  balancer::Config config;
  balancer::WorkerMetrics metrics;
  TestServices services;
  FakeHost host;
  http::HeaderList headers;
  std::string method = "GET";  // the next request()'s method
  std::string target;
  std::string path;
  std::string user;
  std::string identity;
  std::string limit_key;
  std::string response_headers;
  std::vector<std::string_view> replaced_response_headers;
  std::vector<std::string_view> dropped_request_headers;
  FilterContext ctx;
};

}  // namespace filters_test
