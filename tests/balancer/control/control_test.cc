#include "balancer/control/control.h"

#include <catch2/catch.hpp>
#include <map>
#include <memory>

#include "balancer/admin/admin_server.h"
#include "balancer/control/runtime_changes.h"
#include "balancer/outlier/outlier.h"
#include "balancer/upstream/policy.h"
#include "balancer/snapshot.h"
#include "common/http/header_list.h"

using namespace balancer;

namespace {

std::unique_ptr<Snapshot> makeSnapshot(const std::string& upstream_extra = "") {
  std::string yaml = R"(listeners:
  - { name: public, address: 127.0.0.1:8080 }
upstreams:
  app:
    backends:
      - { address: 127.0.0.1:7101, weight: 1 }
      - { address: 127.0.0.1:7102, weight: 1 }
      - { address: 127.0.0.1:7103, weight: 1 }
      - { address: 127.0.0.1:7104, weight: 1 }
)" + upstream_extra + R"(routes:
  - { match: { path_prefix: / }, upstream: app }
)";
  auto result = loadConfigString(yaml);
  for (const auto& e : result.errors) {
    FAIL(e.message);
  }
  return std::make_unique<Snapshot>(std::move(*result.config));
}

const char* kOutlier =
    "    outlier_detection: { consecutive_failures: 3, base_ejection_time: 10s,\n"
    "                         max_ejection_time: 60s, max_ejection_percent: 50 }\n"
    "    slow_start: 10s\n";

std::vector<std::string> addresses(const Upstream& u) {
  std::vector<std::string> out;
  for (const auto& b : u.backends()->backends) {
    out.push_back(b->address.text);
  }
  return out;
}

}  // namespace

TEST_CASE("outlier: ejection time doubles per recent ejection, capped") {
  OutlierConfig c;
  c.base_ejection_time = Millis(10000);
  c.max_ejection_time = Millis(60000);
  CHECK(outlier::ejectionTime(c, 1).count() == 10000);
  CHECK(outlier::ejectionTime(c, 2).count() == 20000);
  CHECK(outlier::ejectionTime(c, 3).count() == 40000);
  CHECK(outlier::ejectionTime(c, 4).count() == 60000);
  CHECK(outlier::ejectionTime(c, 40).count() == 60000);
}

TEST_CASE("outlier: at most max_ejection_percent, at least one") {
  OutlierConfig c;
  c.max_ejection_percent = 50;
  CHECK(outlier::maxEjected(c, 4) == 2);
  CHECK(outlier::maxEjected(c, 3) == 1);
  CHECK(outlier::maxEjected(c, 1) == 1);
  c.max_ejection_percent = 0;
  CHECK(outlier::maxEjected(c, 10) == 0);
}

TEST_CASE("outlier: consecutive failures eject, successes reset, the cap holds") {
  auto snapshot = makeSnapshot(kOutlier);
  Upstream& u = *snapshot->upstreams()[0];
  auto set = u.backends();
  Backend* b0 = set->view[0];
  outlier::recordStatus(u, b0, 500);
  outlier::recordStatus(u, b0, 502);
  outlier::recordStatus(u, b0, 200);  // resets
  outlier::recordStatus(u, b0, 503);
  outlier::recordStatus(u, b0, 504);
  CHECK_FALSE(b0->ejected.load());
  outlier::recordFailure(u, b0);  // a connect failure counts too
  CHECK(b0->ejected.load());
  CHECK_FALSE(b0->usable());
  CHECK(b0->ejections.load() == 1);
  // 404 and 501 are the client's or a normal answer, not the backend failing.
  Backend* b1 = set->view[1];
  for (int i = 0; i < 5; ++i) {
    outlier::recordStatus(u, b1, 404);
  }
  CHECK_FALSE(b1->ejected.load());
  // Two of four may be out at once.
  CHECK(outlier::tryEject(u, b1, outlier::nowMs()));
  CHECK_FALSE(outlier::tryEject(u, set->view[2], outlier::nowMs()));
  CHECK_FALSE(set->view[2]->ejected.load());
}

TEST_CASE("outlier: readmission waits for the time and a passing check") {
  auto snapshot =
      makeSnapshot(std::string(kOutlier) + "    health_check: { path: /health, interval: 1s }\n");
  Upstream& u = *snapshot->upstreams()[0];
  Backend* b = u.backends()->view[0];
  REQUIRE(outlier::tryEject(u, b, 1000000));
  CHECK(b->ejected_until_ms.load() == 1010000);
  CHECK_FALSE(outlier::maybeReadmit(u, b, 1009999));
  b->last_check_ok_ms = 1000500;  // passed, but the time is not over
  CHECK_FALSE(outlier::maybeReadmit(u, b, 1005000));
  b->last_check_ok_ms = 999000;  // the time is over, but no check passed since
  CHECK_FALSE(outlier::maybeReadmit(u, b, 1010000));
  b->last_check_ok_ms = 1010100;
  CHECK(outlier::maybeReadmit(u, b, 1010200));
  CHECK(b->usable());
  // Slow start begins at 10%.
  CHECK(b->effectiveWeight() == Backend::kWeightScale / 10);
  // A second ejection soon after lasts twice as long.
  REQUIRE(outlier::tryEject(u, b, 1020000));
  CHECK(b->ejected_until_ms.load() == 1040000);
  CHECK(b->recent_ejections.load() == 2);
  // After max_ejection_time back in, the count starts again.
  b->last_check_ok_ms = 1040100;
  REQUIRE(outlier::maybeReadmit(u, b, 1040200));
  REQUIRE(outlier::tryEject(u, b, 1040200 + 61000));
  CHECK(b->recent_ejections.load() == 1);
}

TEST_CASE("slow start: linear from 10% to the full weight") {
  CHECK(outlier::slowStartWeight(1, 0, 10000) == 10);
  CHECK(outlier::slowStartWeight(1, 5000, 10000) == 55);
  CHECK(outlier::slowStartWeight(1, 10000, 10000) == 100);
  CHECK(outlier::slowStartWeight(4, 20000, 10000) == 400);
  CHECK(outlier::slowStartWeight(3, 0, 0) == 300);
  auto snapshot = makeSnapshot(kOutlier);
  Upstream& u = *snapshot->upstreams()[0];
  Backend* b = u.backends()->view[0];
  outlier::beginSlowStart(u, b, 5000);
  CHECK(b->effectiveWeight() == 10);
  outlier::updateSlowStart(u, b, 10000);
  CHECK(b->effectiveWeight() == 55);
  outlier::updateSlowStart(u, b, 16000);
  CHECK(b->effectiveWeight() == 100);
  CHECK(b->slow_start_begin_ms.load() == 0);
}

TEST_CASE("slow start: a ramping backend gets its share of round robin") {
  auto snapshot = makeSnapshot(kOutlier);
  Upstream& u = *snapshot->upstreams()[0];
  auto set = u.backends();
  outlier::beginSlowStart(u, set->view[0], 0);  // 10 against 100 each for the others
  RoundRobinPolicy rr;
  std::map<int, int> counts;
  for (int i = 0; i < 310; ++i) {
    counts[rr.pick(set->view, {})]++;
  }
  CHECK(counts[0] == 10);
  CHECK(counts[1] == 100);
}

TEST_CASE("control: add, weight, drain and remove publish new sets") {
  auto snapshot = makeSnapshot();
  int wakes = 0;
  Control control(nullptr, snapshot.get(), nullptr, [&] { ++wakes; });
  Upstream& u = *snapshot->upstreams()[0];
  uint64_t g0 = u.generation();
  auto old_set = u.backends();

  CHECK(control.addBackend("nope", "127.0.0.1:7105", 1).status == 404);
  CHECK(control.addBackend("app", "not an address", 1).status == 400);
  CHECK(control.addBackend("app", "127.0.0.1:7105", 0).status == 400);
  CHECK(control.addBackend("app", "127.0.0.1:7101", 1).status == 409);
  CHECK(u.generation() == g0);

  CHECK(control.addBackend("app", "127.0.0.1:7105", 2).status == 201);
  CHECK(u.generation() > g0);
  CHECK(wakes == 1);
  CHECK(addresses(u).back() == "127.0.0.1:7105");
  CHECK(u.backends()->find("127.0.0.1:7105")->healthy.load());  // no health check: up at once
  // The old set is untouched (a worker may still be using it); backends are shared.
  CHECK(old_set->backends.size() == 4);
  CHECK(old_set->backends[0] == u.backends()->backends[0]);

  CHECK(control.setWeight("app", "127.0.0.1:7101", 5).status == 200);
  CHECK(u.backends()->view[0]->effectiveWeight() == 5 * Backend::kWeightScale);
  CHECK(control.setWeight("app", "127.0.0.1:9999", 5).status == 404);
  CHECK(control.setWeight("app", "127.0.0.1:7101", 1001).status == 400);

  // A backend with a request in flight drains, and leaves only when that request ends.
  auto b2 = u.backends()->find("127.0.0.1:7102");
  b2->in_flight = 1;
  CHECK(control.removeBackend("app", "127.0.0.1:7102").status == 202);
  CHECK(b2->draining.load());
  CHECK_FALSE(b2->usable());
  CHECK(u.backends()->find("127.0.0.1:7102") != nullptr);
  control.tick(outlier::nowMs());
  CHECK(u.backends()->find("127.0.0.1:7102") != nullptr);
  b2->in_flight = 0;
  control.tick(outlier::nowMs());
  CHECK(u.backends()->find("127.0.0.1:7102") == nullptr);
  CHECK(control.removeBackend("app", "127.0.0.1:7102").status == 404);
  // An idle backend leaves at once.
  CHECK(control.removeBackend("app", "127.0.0.1:7103").status == 202);
  CHECK(addresses(u) ==
        std::vector<std::string>{"127.0.0.1:7101", "127.0.0.1:7104", "127.0.0.1:7105"});
  CHECK(control.upstreamsJson().find("\"127.0.0.1:7105\"") != std::string::npos);
}

TEST_CASE("runtime changes win over a reloaded YAML") {
  auto snapshot = makeSnapshot();
  Control control(nullptr, snapshot.get(), nullptr, [] {});
  REQUIRE(control.addBackend("app", "127.0.0.1:7105", 3).status == 201);
  REQUIRE(control.removeBackend("app", "127.0.0.1:7102").status == 202);
  REQUIRE(control.setWeight("app", "127.0.0.1:7101", 7).status == 200);
  REQUIRE(control.setWeight("app", "127.0.0.1:7105", 4).status == 200);
  // A reload of the same YAML: 7102 stays out, 7105 stays in with its weight, 7101 keeps 7.
  auto reloaded = makeSnapshot();
  control.changes().applyTo(*reloaded);
  Upstream& u = *reloaded->upstreams()[0];
  CHECK(addresses(u) == std::vector<std::string>{"127.0.0.1:7101", "127.0.0.1:7103",
                                                 "127.0.0.1:7104", "127.0.0.1:7105"});
  CHECK(u.backends()->find("127.0.0.1:7101")->weight.load() == 7);
  CHECK(u.backends()->find("127.0.0.1:7105")->weight.load() == 4);
}

TEST_CASE("admin: token, routes and errors without a socket") {
  auto snapshot = makeSnapshot();
  Control control(nullptr, snapshot.get(), nullptr, [] {});
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    AdminServer admin(&loop, &control, AdminAccess("tok", {}),
                      [] { return std::string("m 1\n"); });
    http::HeaderList headers;
    http::Request req;
    req.headers = &headers;
    req.method = HTTP_GET;
    req.path = "/health";
    CHECK(admin.handle(req).status == 200);
    req.path = "/upstreams";
    CHECK(admin.handle(req).status == 401);
    headers.appendName("Authorization", 13);
    headers.endName();
    headers.appendValue("Bearer tok", 10);
    CHECK(admin.handle(req).status == 200);
    req.path = "/metrics";
    CHECK(admin.handle(req).body == "m 1\n");
    req.method = HTTP_POST;
    req.path = "/upstreams/app/backends";
    req.body = R"({"address":"127.0.0.1:7109","weight":2})";
    CHECK(admin.handle(req).status == 415);  // a write must say it is JSON
    headers.appendName("Content-Type", 12);
    headers.endName();
    headers.appendValue("application/json; charset=utf-8", 31);
    CHECK(admin.handle(req).status == 201);
    CHECK(admin.handle(req).status == 409);
    req.body = R"({"address":"127.0.0.1:7110","weight":1.5})";
    CHECK(admin.handle(req).status == 400);
    req.method = HTTP_DELETE;
    req.path = "/upstreams/app/backends/127.0.0.1%3A7109";
    req.body.clear();
    CHECK(admin.handle(req).status == 202);
    req.method = HTTP_PATCH;
    CHECK(admin.handle(req).status == 405);
    admin.close();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("config: outlier_detection, slow_start and admin.token") {
  auto snapshot = makeSnapshot(kOutlier);
  const UpstreamConfig& uc = *snapshot->upstreams()[0]->config;
  REQUIRE(uc.outlier_detection);
  CHECK(uc.outlier_detection->consecutive_failures == 3);
  CHECK(uc.outlier_detection->base_ejection_time.count() == 10000);
  CHECK(uc.outlier_detection->max_ejection_time.count() == 60000);
  CHECK(uc.slow_start.count() == 10000);
  CHECK_FALSE(makeSnapshot()->upstreams()[0]->config->outlier_detection);

  auto bad = loadConfigString(R"(listeners:
  - { name: public, address: 127.0.0.1:8080 }
admin: { address: 127.0.0.1:9901, token: abc }
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7101 }]
    outlier_detection: { base_ejection_time: 20s, max_ejection_time: 10s, colour: red }
routes:
  - { match: { path_prefix: / }, upstream: app }
)");
  CHECK(bad.errors.size() == 2);  // the unknown key and base > max
  auto good = loadConfigString(R"(listeners:
  - { name: public, address: 127.0.0.1:8080 }
admin: { address: 127.0.0.1:9901, token: abc }
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7101 }]
routes:
  - { match: { path_prefix: / }, upstream: app }
)");
  REQUIRE(good.config);
  CHECK(good.config->admin_token == "abc");
}
