// The key tables of balancer/config/: defaults, types, unknown keys and error collection.

#include <catch2/catch.hpp>

#include <algorithm>

#include "balancer/config/config.h"
#include "balancer/config/declared_keys.h"

using balancer::ConfigError;
using balancer::loadConfigString;
using balancer::config::DeclaredKey;
using balancer::config::declaredConfigKeys;

namespace {

const char* kMinimal = R"(listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7001 }]
routes:
  - match: { path_prefix: / }
    upstream: app
    rate_limit: { rate: 20/s }
)";

const DeclaredKey& declared(const std::string& path) {
  static const std::vector<DeclaredKey> keys = declaredConfigKeys();
  auto it = std::find_if(keys.begin(), keys.end(),
                         [&](const DeclaredKey& k) { return k.name == path; });
  REQUIRE(it != keys.end());
  return *it;
}

}  // namespace

TEST_CASE("keys left out get the declared default") {
  auto result = loadConfigString(kMinimal);
  REQUIRE(result.errors.empty());
  const auto& c = *result.config;
  CHECK(c.workers == 0);
  CHECK(declared("workers").default_text == "auto");
  CHECK(c.timeouts.client_write.count() == 60000);
  CHECK(declared("timeouts.client_write").default_text == "60s");
  CHECK(c.limits.max_header_bytes == 32 * 1024);
  CHECK(declared("limits.max_header_bytes").default_text == "32KiB");
  CHECK(c.listeners.at(0).name == "127.0.0.1:8080");  // a listener is named by its address
  CHECK(c.listeners.at(0).access_log);
  const auto& u = c.upstreams.at(0);
  CHECK(u.retries == 1);
  CHECK(u.read_timeout.count() == 30000);
  CHECK(declared("upstreams.NAME.read_timeout").default_text == "30s");
  CHECK_FALSE(u.pool.max_idle.has_value());
  CHECK(declared("upstreams.NAME.pool.max_idle").default_text == "auto");
  CHECK(u.pool.idle_timeout.count() == 60000);
  CHECK_FALSE(u.health_check.has_value());
  CHECK_FALSE(c.access_log.has_value());
  const auto& rl = c.routes.at(0).rate_limit;
  REQUIRE(rl);
  CHECK(rl->burst == 20.0);  // the burst defaults to the rate
  CHECK(declared("routes[].rate_limit.burst").default_text == "the rate");
  CHECK(declared("routes[].auth").default_text == "none");
}

TEST_CASE("a value of the wrong type is reported at its line and column") {
  auto result = loadConfigString(R"(timeouts:
  client_idle: [1s, 2s]
listeners:
  - address: 127.0.0.1:8080
    access_log: maybe
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7001 }]
    retries: { times: 2 }
    pool: { max_idle: 1.5 }
routes:
  - match: { path_prefix: / }
    upstream: app
)");
  REQUIRE_FALSE(result.config);
  struct Expect {
    std::string message;
    int line;
    int column;
  };
  const Expect expected[] = {
      {"timeouts.client_idle must be a single value", 2, 16},
      {"listener access_log must be true or false", 5, 17},
      {"retries must be a single value", 9, 14},
      {"pool.max_idle must be a whole number or auto, got '1.5'", 10, 23},
  };
  REQUIRE(result.errors.size() == std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    INFO(result.errors[i].message);
    CHECK(result.errors[i].message == expected[i].message);
    CHECK(result.errors[i].line == expected[i].line);
    CHECK(result.errors[i].column == expected[i].column);
  }
}

TEST_CASE("an unknown key names the keys its section declares") {
  auto result = loadConfigString(std::string(kMinimal) +
                                 "    colour: blue\n"
                                 "upstream_timeout: 1s\n");
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].message ==
        "unknown key 'colour' in route (expected one of: match, upstream, static, strip_prefix, "
        "auth, require_roles, rate_limit, max_body_size, allow, deny, cors, cache, compress)");
  CHECK(result.errors[0].line == 10);
  CHECK(result.errors[0].column == 5);
  // The list is the declaration: every key of the top level, nothing else.
  std::string expected;
  for (const DeclaredKey& key : declaredConfigKeys()) {
    if (key.name.find_first_of(".[") == std::string::npos) {
      expected += (expected.empty() ? "" : ", ") + key.name;
    }
  }
  CHECK(result.errors[1].message ==
        "unknown key 'upstream_timeout' in the configuration (expected one of: " + expected + ")");
  CHECK(result.errors[1].line == 11);
  CHECK(result.errors[1].column == 1);

  auto upstream = loadConfigString(R"(listeners: [{ address: 127.0.0.1:8080 }]
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7001, wieght: 2 }]
routes: [{ match: { path: / }, upstream: app }]
)");
  REQUIRE(upstream.errors.size() == 1);
  CHECK(upstream.errors[0].message ==
        "unknown key 'wieght' in backend (expected one of: address, weight)");
  CHECK(upstream.errors[0].line == 4);
  CHECK(upstream.errors[0].column == 43);
}

TEST_CASE("errors of reading and of validation are reported together, in file order") {
  auto result = loadConfigString(R"(workers: 0
listeners:
  - { name: a, address: 127.0.0.1:8080, tls: { certificates: [] } }
  - { name: a, address: 127.0.0.1:8081 }
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7001 }]
    dns_refresh: 10ms
    outlier_detection: { base_ejection_time: 10s, max_ejection_time: 1s }
routes:
  - match: { path_prefix: /a }
    upstream: ghost
    auth: jwt
    rate_limit: { rate: 5/s, scope: global }
  - upstream: app
)");
  REQUIRE_FALSE(result.config);
  const std::pair<std::string, int> expected[] = {
      {"workers must be between 1 and 256, got 0", 1},
      {"tls needs a list of certificates ({cert, key}); the first is the default", 3},
      {"duplicate listener name 'a'", 4},
      {"dns_refresh must be at least 100ms", 8},
      {"outlier_detection needs 0 < base_ejection_time <= max_ejection_time", 9},
      {"route names unknown upstream 'ghost'", 12},
      {"auth: jwt needs a top-level jwt section", 13},
      {"scope: global needs a top-level redis section", 14},
      {"route needs a match", 15},
  };
  std::vector<std::pair<std::string, int>> got;
  for (const ConfigError& e : result.errors) {
    got.emplace_back(e.message, e.line);
  }
  CHECK(got == std::vector<std::pair<std::string, int>>(std::begin(expected),
                                                         std::end(expected)));
}

TEST_CASE("every declared key has a type and a meaning; sections list their keys") {
  for (const DeclaredKey& key : declaredConfigKeys()) {
    INFO(key.name);
    CHECK_FALSE(key.type.empty());
    CHECK_FALSE(key.meaning.empty());
  }
  CHECK(declared("upstreams.NAME.backends").shape == "[]");
  CHECK(declared("upstreams.NAME.backends[].weight").type == "1..1000");
  CHECK(declared("upstreams").shape == ".NAME");
  CHECK(declared("upstreams.NAME.balance").type == "round_robin|least_conn|p2c");
}
