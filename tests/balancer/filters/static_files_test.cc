#include <catch2/catch.hpp>

#include "../static_files/temp_tree.h"
#include "balancer/config.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/filters/static_files.h"
#include "filter_fixture.h"

using balancer::filters::buildRouteChain;
using balancer::filters::StaticFiles;
using balancer::filters::Verdict;
using filters_test::FilterFixture;
using static_files_test::drain;
using static_files_test::TempTree;
using Action = balancer::filters::Verdict::Action;

namespace {

// Runs the filter on `target`: it pauses while the file is looked up on the thread pool,
// then resumes the exchange with its answer.
Verdict lookUp(StaticFiles& filter, FilterFixture& f, std::string_view target) {
  auto& ctx = f.request(target);
  size_t before = f.host.resumed.size();
  Verdict paused = filter.onRequestHead(ctx);
  REQUIRE(paused.action == Action::kPause);
  CHECK(f.host.resumed.size() == before);  // not on the loop's thread
  while (f.host.resumed.size() == before) {
    uv_run(ctx.services->loop(), UV_RUN_ONCE);
  }
  CHECK(f.host.resumed.back().exchange == f.host.exchange);
  return f.host.resumed.back().verdict;
}

}  // namespace

TEST_CASE("the static filter looks files up on the thread pool, then resumes with them") {
  TempTree tree;
  tree.file("hello.txt", "hello from disk");
  balancer::StaticFilesConfig config;
  config.root = tree.root();
  StaticFiles filter(config, "/files");
  CHECK(filter.name() == "static");
  FilterFixture f;
  Verdict found = lookUp(filter, f, "/files/hello.txt");
  REQUIRE(found.action == Action::kRespond);
  CHECK(found.response->status == 200);
  CHECK(drain(*found.response, f.services.loop()).body == "hello from disk");
  Verdict missing = lookUp(filter, f, "/files/nope.txt");
  CHECK(missing.action == Action::kReply);
  CHECK(missing.status == 404);
  f.method = "POST";  // refused at once, without a lookup
  CHECK(filter.onRequestHead(f.request("/files/hello.txt")).status == 405);
}

// The fixture's services on a loop of the test's own, which ends when the lookups on it do
// (the fixture's loop also holds the Redis limiter's timers).
class OwnLoop final : public balancer::filters::FilterServices {
 public:
  explicit OwnLoop(balancer::filters::FilterServices& inner) : inner_(inner) {
    REQUIRE(uv_loop_init(&loop_) == 0);
  }
  ~OwnLoop() override {
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  OwnLoop(const OwnLoop&) = delete;
  OwnLoop& operator=(const OwnLoop&) = delete;
  const jwt::Verifier* verifier() override { return inner_.verifier(); }
  jwt::TokenCache& tokenCache() override { return inner_.tokenCache(); }
  balancer::rate_limit::LocalLimiter& localLimiter() override { return inner_.localLimiter(); }
  balancer::rate_limit::RedisLimiter* redisLimiter() override { return inner_.redisLimiter(); }
  void countRateLimitUnavailable() override { inner_.countRateLimitUnavailable(); }
  uv_loop_t* loop() override { return &loop_; }
  compression::EncoderPool& encoderPool() override { return inner_.encoderPool(); }

 private:
  balancer::filters::FilterServices& inner_;
  uv_loop_t loop_;
};

TEST_CASE("a lookup that ends after the client left resumes nothing and closes its file") {
  TempTree tree;
  tree.file("hello.txt", "hello");
  balancer::StaticFilesConfig config;
  config.root = tree.root();
  FilterFixture f;
  OwnLoop services(f.services);
  {
    StaticFiles filter(config, "");
    auto& ctx = f.request("/hello.txt");
    ctx.services = &services;
    REQUIRE(filter.onRequestHead(ctx).action == Action::kPause);
    f.host.leave();
  }  // the filter (a reload) and the client are gone while the lookup runs
  uv_run(services.loop(), UV_RUN_DEFAULT);  // returns once the lookup and its close are done
  CHECK(f.host.resumed.empty());
}

TEST_CASE("a static route's chain ends with the static filter, after the others") {
  TempTree tree;
  balancer::Config config = filters_test::configWithRoutes(2);
  config.routes[0].static_files = balancer::StaticFilesConfig{tree.root(), "index.html"};
  config.routes[0].max_body_size = 10;
  config.routes[0].rate_limit = balancer::RateLimitConfig{};
  auto chain = buildRouteChain(config, 0);
  REQUIRE(chain.size() == 3);
  CHECK(chain.at(0).name() != "static");
  CHECK(chain.at(2).name() == "static");
  CHECK(buildRouteChain(config, 1).empty());  // a route with an upstream has no static filter
}
