#include <catch2/catch.hpp>

#include "../static_files/temp_tree.h"
#include "balancer/config.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/filters/static_files.h"
#include "filter_fixture.h"

using balancer::filters::buildRouteChain;
using balancer::filters::StaticFiles;
using filters_test::FilterFixture;
using static_files_test::drain;
using static_files_test::TempTree;
using Action = balancer::filters::Verdict::Action;

TEST_CASE("the static filter answers from the route's root on the worker's loop") {
  TempTree tree;
  tree.file("hello.txt", "hello from disk");
  balancer::StaticFilesConfig config;
  config.root = tree.root();
  StaticFiles filter(config, "/files");
  CHECK(filter.name() == "static");
  FilterFixture f;
  auto& ctx = f.request("/files/hello.txt");
  auto verdict = filter.onRequestHead(ctx);
  REQUIRE(verdict.action == Action::kRespond);
  CHECK(verdict.response->status == 200);
  CHECK(drain(*verdict.response, ctx.services->loop()).body == "hello from disk");
  CHECK(filter.onRequestHead(f.request("/files/nope.txt")).status == 404);
  f.method = "POST";
  CHECK(filter.onRequestHead(f.request("/files/hello.txt")).status == 405);
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
