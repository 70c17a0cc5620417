#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "balancer/config.h"

using balancer::BalanceKind;
using balancer::ConfigError;
using balancer::loadConfigString;

namespace {

const char* kGood = R"(workers: 2
shutdown_timeout: 5s
timeouts: { client_header: 5s, client_idle: 30s, tunnel_idle: 10m }
limits: { max_header_bytes: 16KiB, max_headers: 50, max_body_size: 10MiB }
listeners:
  - name: public
    address: 127.0.0.1:8080
admin:
  address: 127.0.0.1:9901
upstreams:
  products:
    balance: least_conn
    backends:
      - { address: 127.0.0.1:7101, weight: 3 }
      - { address: "[::1]:7102" }
    health_check: { path: /health, interval: 2s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 3 }
    connect_timeout: 500ms
    request_timeout: 10s
    retries: 2
    pool: { max_idle: 32, idle_timeout: 20s }
routes:
  - match: { path_prefix: /api/products, methods: [GET, HEAD], host: shop.test }
    upstream: products
    strip_prefix: /api
)";

// Finds the error whose message contains `text`.
const ConfigError* findError(const std::vector<ConfigError>& errors, const std::string& text) {
  for (const auto& e : errors) {
    if (e.message.find(text) != std::string::npos) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a complete configuration loads with every value") {
  auto result = loadConfigString(kGood);
  REQUIRE(result.errors.empty());
  const auto& c = *result.config;
  CHECK(c.workers == 2);
  CHECK(c.shutdown_timeout.count() == 5000);
  CHECK(c.timeouts.client_header.count() == 5000);
  CHECK(c.timeouts.tunnel_idle.count() == 600000);
  CHECK(c.limits.max_header_bytes == 16384);
  CHECK(c.limits.max_headers == 50);
  CHECK(c.limits.max_body_size == 10u * 1024 * 1024);
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].address.port() == 8080);
  REQUIRE(c.upstreams.size() == 1);
  const auto& u = c.upstreams[0];
  CHECK(u.balance == BalanceKind::kLeastConn);
  REQUIRE(u.backends.size() == 2);
  CHECK(u.backends[0].weight == 3);
  CHECK(u.backends[1].weight == 1);
  CHECK(u.backends[1].address.family() == AF_INET6);
  REQUIRE(u.health_check);
  CHECK(u.health_check->unhealthy_threshold == 3);
  CHECK(u.connect_timeout.count() == 500);
  CHECK(u.retries == 2);
  CHECK(u.pool.max_idle == 32);
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].host == "shop.test");
  CHECK(c.routes[0].methods == std::vector<std::string>{"GET", "HEAD"});
  CHECK(c.routes[0].strip_prefix == "/api");
}

TEST_CASE("workers: auto means one per core") {
  std::string yaml = kGood;
  yaml.replace(yaml.find("workers: 2"), 10, "workers: auto");
  auto result = loadConfigString(yaml);
  REQUIRE(result.errors.empty());
  CHECK(result.config->workers == 0);
}

TEST_CASE("pool.max_idle: auto (the default) adapts, a number caps, anything else is an error") {
  std::string yaml = kGood;
  yaml.replace(yaml.find("max_idle: 32"), 12, "max_idle: auto");
  auto result = loadConfigString(yaml);
  REQUIRE(result.errors.empty());
  CHECK_FALSE(result.config->upstreams.at(0).pool.max_idle.has_value());

  std::string unset = kGood;
  unset.replace(unset.find("max_idle: 32, "), 14, "");
  auto defaulted = loadConfigString(unset);
  REQUIRE(defaulted.errors.empty());
  CHECK_FALSE(defaulted.config->upstreams.at(0).pool.max_idle.has_value());

  std::string bad = kGood;
  bad.replace(bad.find("max_idle: 32"), 12, "max_idle: many");
  auto refused = loadConfigString(bad);
  REQUIRE_FALSE(refused.config);
  CHECK(findError(refused.errors, "pool.max_idle") != nullptr);
}

TEST_CASE("read_timeout and client_write: defaults and values") {
  auto defaults = loadConfigString(kGood);
  REQUIRE(defaults.config);
  CHECK(defaults.config->upstreams.at(0).read_timeout.count() == 30000);
  CHECK(defaults.config->timeouts.client_write.count() == 60000);
  std::string yaml = kGood;
  yaml.replace(yaml.find("    retries: 2"), 14, "    retries: 2\n    read_timeout: 5s");
  yaml.replace(yaml.find("tunnel_idle: 10m }"), 18, "tunnel_idle: 10m, client_write: 2s }");
  auto set = loadConfigString(yaml);
  REQUIRE(set.errors.empty());
  CHECK(set.config->upstreams.at(0).read_timeout.count() == 5000);
  CHECK(set.config->timeouts.client_write.count() == 2000);
}

TEST_CASE("every error is reported with its line and column") {
  auto result = loadConfigString(R"(workers: lots
shutdown_timeout: 10
listeners:
  - { name: public, address: 127.0.0.1:99999 }
  - { name: public, address: nowhere }
upstreams:
  app:
    balance: random_walk
    backends:
      - { address: 127.0.0.1:7001, weight: 0 }
      - { address: 127.0.0.1:7001 }
    health_check: { path: health, intervall: 2s }
    retries: many
routes:
  - match: { path_prefix: api }
    upstream: missing
  - match: { methods: [get] }
    upstream: app
    strip_prefix: /x
  - upstream: app
    colour: blue
)");
  REQUIRE_FALSE(result.config);
  struct Expect {
    const char* text;
    int line;
    int column;
  };
  const Expect expected[] = {
      {"workers must be a whole number", 1, 10},
      {"needs a unit", 2, 19},
      {"port out of range", 4, 30},
      {"duplicate listener name", 5, 13},
      {"expected host:port", 5, 30},
      {"unknown balance 'random_walk'", 8, 14},
      {"weight must be between 1 and 1000", 10, 44},
      {"duplicate backend", 11, 20},
      {"health_check.path must start with '/'", 12, 27},
      {"unknown key 'intervall'", 12, 35},
      {"retries must be a whole number", 13, 14},
      {"match.path_prefix must start with '/'", 15, 27},
      {"unknown upstream 'missing'", 16, 15},
      {"match needs path or path_prefix", 17, 12},
      {"invalid method 'get'", 17, 23},
      {"route needs a match", 20, 5},
      {"unknown key 'colour' in route", 21, 5},
  };
  for (const auto& e : expected) {
    INFO(e.text);
    const ConfigError* found = findError(result.errors, e.text);
    REQUIRE(found != nullptr);
    CHECK(found->line == e.line);
    CHECK(found->column == e.column);
  }
}

TEST_CASE("missing sections and bad YAML are errors, not crashes") {
  auto empty = loadConfigString("");
  REQUIRE_FALSE(empty.config);
  CHECK(findError(empty.errors, "empty") != nullptr);

  auto missing = loadConfigString("workers: 1\n");
  CHECK(findError(missing.errors, "needs listeners") != nullptr);
  CHECK(findError(missing.errors, "needs upstreams") != nullptr);
  CHECK(findError(missing.errors, "needs routes") != nullptr);

  auto broken = loadConfigString("listeners: [\n  - a: b\n");
  REQUIRE_FALSE(broken.config);
  REQUIRE(broken.errors.size() == 1);
  CHECK(broken.errors[0].line >= 1);
}

TEST_CASE("a route with auth needs the jwt section; rate limits are checked") {
  std::string yaml = kGood;
  yaml += "    auth: jwt\n    rate_limit: { rate: 10/s, burst: 5, key: ip, scope: local }\n";
  auto result = loadConfigString(yaml);
  REQUIRE_FALSE(result.config);
  CHECK(findError(result.errors, "needs a top-level jwt section") != nullptr);
  CHECK(findError(result.errors, "needs a top-level jwt section") != nullptr);
}

TEST_CASE("jwt keys come from jwks_file or jwks_url: one of them, a safe URL, sane bounds") {
  auto jwt = [](const std::string& keys) {
    return std::string(kGood) + "jwt:\n" + keys + "  issuer: https://users.local\n  audience: shop\n";
  };
  auto url = loadConfigString(jwt("  jwks_url: https://users.example/.well-known/jwks.json\n"
                                  "  jwks_refresh: { min: 5s, max: 10m }\n"));
  REQUIRE(url.config);
  CHECK(url.config->jwt->jwks_url == "https://users.example/.well-known/jwks.json");
  CHECK(url.config->jwt->jwks_refresh.min == std::chrono::seconds(5));
  CHECK(url.config->jwt->jwks_refresh.max == std::chrono::minutes(10));

  auto defaults = loadConfigString(jwt("  jwks_url: http://127.0.0.1:7001/jwks\n"));
  REQUIRE(defaults.config);
  CHECK(defaults.config->jwt->jwks_refresh.min == std::chrono::seconds(30));
  CHECK(defaults.config->jwt->jwks_refresh.max == std::chrono::hours(1));

  // One duration: both bounds, a fixed period.
  auto fixed = loadConfigString(jwt("  jwks_url: https://users.example/jwks\n  jwks_refresh: 5m\n"));
  REQUIRE(fixed.config);
  CHECK(fixed.config->jwt->jwks_refresh.min == std::chrono::minutes(5));
  CHECK(fixed.config->jwt->jwks_refresh.max == std::chrono::minutes(5));

  auto neither = loadConfigString(jwt(""));
  REQUIRE_FALSE(neither.config);
  CHECK(findError(neither.errors, "jwt needs jwks_file or jwks_url") != nullptr);

  auto both = loadConfigString(jwt("  jwks_file: " + std::string(SOURCE_DIR) +
                                   "/README.md\n  jwks_url: https://users.example/jwks\n"));
  REQUIRE_FALSE(both.config);
  const ConfigError* e = findError(both.errors, "jwks_file or jwks_url, not both");
  REQUIRE(e != nullptr);
  CHECK(e->line == 27);  // the jwks_url line

  auto plain = loadConfigString(jwt("  jwks_url: http://users.example/jwks\n"));
  REQUIRE_FALSE(plain.config);
  CHECK(findError(plain.errors, "only allowed to a loopback host") != nullptr);
  auto trusted = loadConfigString(
      jwt("  jwks_url: http://users.example/jwks\n  jwks_insecure_http: true\n"));
  CHECK(trusted.config);

  auto bounds = loadConfigString(jwt("  jwks_url: https://users.example/jwks\n"
                                     "  jwks_refresh: { min: 2h, max: 1h }\n"));
  REQUIRE_FALSE(bounds.config);
  CHECK(findError(bounds.errors, "jwks_refresh.min must not be above") != nullptr);
  auto tiny = loadConfigString(jwt("  jwks_url: https://users.example/jwks\n"
                                   "  jwks_refresh: { min: 10ms }\n"));
  REQUIRE_FALSE(tiny.config);
  CHECK(findError(tiny.errors, "must be at least 1s") != nullptr);

  auto stray = loadConfigString(jwt("  jwks_file: " + std::string(SOURCE_DIR) +
                                    "/README.md\n  jwks_ca: " + std::string(SOURCE_DIR) +
                                    "/README.md\n"));
  REQUIRE_FALSE(stray.config);
  CHECK(findError(stray.errors, "jwks_ca needs jwks_url") != nullptr);
}

TEST_CASE("strip_prefix must be a prefix of the route's path_prefix") {
  std::string yaml = kGood;
  yaml.replace(yaml.find("strip_prefix: /api"), 18, "strip_prefix: /web");
  auto result = loadConfigString(yaml);
  REQUIRE_FALSE(result.config);
  CHECK(findError(result.errors, "is not a prefix of path_prefix") != nullptr);
}

TEST_CASE("errors format as FILE:LINE:COLUMN: message") {
  ConfigError e{12, 7, "unknown key 'x'"};
  CHECK(balancer::formatConfigError("conf.yaml", e) == "conf.yaml:12:7: unknown key 'x'");
}

TEST_CASE("the example configuration in config/ is valid") {
  auto result = balancer::loadConfigFile(std::string(SOURCE_DIR) + "/config/balancer.example.yaml");
  for (const auto& e : result.errors) {
    INFO(balancer::formatConfigError("balancer.example.yaml", e));
  }
  CHECK(result.errors.empty());
}

TEST_CASE("TLS listeners: files must be readable, versions known, no redirect to itself") {
  auto result = loadConfigString(R"(listeners:
  - name: secure
    address: 127.0.0.1:8443
    redirect_to_https: true
    tls:
      certificates:
        - { cert: /nonexistent/a.crt, key: /nonexistent/a.key }
      min_version: "1.1"
      cipherz: x
upstreams:
  app:
    backends: [{ address: 127.0.0.1:7001 }]
routes:
  - match: { path_prefix: / }
    upstream: app
)");
  REQUIRE_FALSE(result.config);
  const ConfigError* cert = findError(result.errors, "cannot read '/nonexistent/a.crt'");
  REQUIRE(cert != nullptr);
  CHECK(cert->line == 7);
  CHECK(findError(result.errors, "cannot read '/nonexistent/a.key'") != nullptr);
  CHECK(findError(result.errors, "min_version must be") != nullptr);
  CHECK(findError(result.errors, "unknown key 'cipherz' in tls") != nullptr);
  CHECK(findError(result.errors, "cannot redirect to itself") != nullptr);
}

TEST_CASE("rate limits: rate, burst, key and scope, global needing redis") {
  std::string yaml = kGood;
  yaml += "    rate_limit: { rate: 100/s, burst: 200, key: user, scope: local }\n";
  auto ok = loadConfigString(yaml);
  REQUIRE(ok.errors.empty());
  const auto& rl = *ok.config->routes[0].rate_limit;
  CHECK(rl.rate == 100.0);
  CHECK(rl.burst == 200.0);
  CHECK(rl.key == balancer::RateLimitConfig::Key::kUser);

  std::string bad = kGood;
  bad += "    rate_limit: { rate: fast, key: cookie, scope: global }\n";
  auto result = loadConfigString(bad);
  REQUIRE_FALSE(result.config);
  CHECK(findError(result.errors, "rate_limit.rate") != nullptr);
  CHECK(findError(result.errors, "rate_limit.key must be") != nullptr);
  CHECK(findError(result.errors, "needs a top-level redis section") != nullptr);
}

TEST_CASE("redis.address: an IP, or a name looked up at each connection") {
  auto host_of = [](const std::string& address) {
    auto result = loadConfigString(std::string(kGood) + "redis: { address: \"" + address + "\" }\n");
    REQUIRE(result.errors.empty());
    const auto& redis = *result.config->redis;
    CHECK(redis.address == address);
    return redis.host + " " + std::to_string(redis.port);
  };
  CHECK(host_of("127.0.0.1:6379") == "127.0.0.1 6379");
  CHECK(host_of("[::1]:6380") == "::1 6380");
  CHECK(host_of("redis.shop.svc.cluster.local:6379") == "redis.shop.svc.cluster.local 6379");

  for (const char* bad : {"redis.shop.svc", "redis:notaport", ":6379", "10.0.0.1:70000"}) {
    auto result = loadConfigString(std::string(kGood) + "redis: { address: \"" + bad + "\" }\n");
    INFO(bad);
    CHECK_FALSE(result.config);
    CHECK(findError(result.errors, "redis.address") != nullptr);
  }
}

TEST_CASE("cache zones and a route's cache: sizes, key settings, the zone must exist") {
  std::string yaml = kGood;
  yaml += "    cache: { zone: edge, key_headers: [X-Tenant], key_cookies: [lang], "
          "ignore_query: [utm_source], default_ttl: 30s, store_set_cookie: true }\n";
  yaml += "cache_zones:\n  edge: { memory: 64MiB, max_object: 1MiB }\n  other: {}\n";
  auto ok = loadConfigString(yaml);
  REQUIRE(ok.errors.empty());
  REQUIRE(ok.config->cache_zones.size() == 2);
  CHECK(ok.config->cache_zones[0].name == "edge");
  CHECK(ok.config->cache_zones[0].memory == 64u << 20);
  CHECK(ok.config->cache_zones[0].max_object == 1u << 20);
  CHECK(ok.config->cache_zones[1].memory == 256u << 20);  // the defaults
  CHECK(ok.config->cache_zones[1].max_object == 8u << 20);
  const auto& cache = *ok.config->routes[0].cache;
  CHECK(cache.zone == "edge");
  CHECK(cache.key_headers == std::vector<std::string>{"X-Tenant"});
  CHECK(cache.key_cookies == std::vector<std::string>{"lang"});
  CHECK(cache.ignore_query == std::vector<std::string>{"utm_source"});
  CHECK(cache.default_ttl.count() == 30000);
  CHECK(cache.store_set_cookie);

  std::string unknown = kGood;
  unknown += "    cache: { zone: nowhere }\n";
  auto bad = loadConfigString(unknown);
  REQUIRE_FALSE(bad.config);
  CHECK(findError(bad.errors, "unknown cache zone 'nowhere'") != nullptr);

  std::string no_zone = kGood;
  no_zone += "    cache: { default_ttl: 1s }\n";
  CHECK_FALSE(loadConfigString(no_zone).config);

  std::string too_big = kGood;
  too_big += "cache_zones:\n  edge: { memory: 1MiB, max_object: 2MiB }\n";
  auto big = loadConfigString(too_big);
  REQUIRE_FALSE(big.config);
  CHECK(findError(big.errors, "at least max_object") != nullptr);
}

TEST_CASE("a static route: root and index, instead of an upstream") {
  std::string dir = std::string(SOURCE_DIR) + "/tests";
  std::string yaml = kGood;
  yaml += "  - match: { path_prefix: /web }\n    static: { root: " + dir +
          ", index: home.html }\n    strip_prefix: /web\n";
  auto ok = loadConfigString(yaml);
  for (const auto& e : ok.errors) {
    INFO(e.line << ":" << e.column << ": " << e.message);
  }
  REQUIRE(ok.errors.empty());
  const auto& route = ok.config->routes[1];
  REQUIRE(route.static_files);
  CHECK(route.static_files->root == dir);
  CHECK(route.static_files->index == "home.html");
  CHECK(route.upstream.empty());
  yaml = kGood;
  yaml += "  - match: { path_prefix: /web }\n    static: { root: " + dir + " }\n";
  CHECK(loadConfigString(yaml).config->routes[1].static_files->index == "index.html");
}

TEST_CASE("a static route's errors: both or neither of upstream and static, bad root or index") {
  std::string yaml = kGood;
  yaml += "  - match: { path_prefix: /both }\n"       // line 25
          "    upstream: products\n"
          "    static: { root: /nonexistent-folder, index: a/b.html }\n"
          "  - match: { path_prefix: /neither }\n"     // line 28
          "  - match: { path_prefix: /noroot }\n"
          "    static: { index: x.html }\n";
  auto result = loadConfigString(yaml);
  REQUIRE_FALSE(result.config);
  const ConfigError* both = findError(result.errors, "upstream or static, not both");
  REQUIRE(both != nullptr);
  CHECK(both->line == 27);
  const ConfigError* root = findError(result.errors, "'/nonexistent-folder' is not a folder");
  REQUIRE(root != nullptr);
  CHECK(root->line == 27);
  CHECK(findError(result.errors, "index must be a file name") != nullptr);
  const ConfigError* neither = findError(result.errors, "route needs an upstream (or static)");
  REQUIRE(neither != nullptr);
  CHECK(neither->line == 28);
  CHECK(findError(result.errors, "static needs a root") != nullptr);
}

TEST_CASE("upstreams may be left out only when every route is static") {
  std::string dir = std::string(SOURCE_DIR) + "/tests";
  std::string head = "listeners:\n  - { address: 127.0.0.1:8080 }\nroutes:\n";
  std::string files = "  - match: { path_prefix: / }\n    static: { root: " + dir + " }\n";
  auto all_static = loadConfigString(head + files);
  for (const auto& e : all_static.errors) {
    INFO(e.line << ":" << e.column << ": " << e.message);
  }
  REQUIRE(all_static.errors.empty());
  CHECK(all_static.config->upstreams.empty());

  auto mixed = loadConfigString(head + files + "  - match: { path_prefix: /api }\n    upstream: app\n");
  REQUIRE_FALSE(mixed.config);
  const ConfigError* needs = findError(mixed.errors, "the configuration needs upstreams");
  REQUIRE(needs != nullptr);
  CHECK(needs->line == 1);
  CHECK(findError(mixed.errors, "route names unknown upstream 'app'") != nullptr);
}

TEST_CASE("a static root is relative to the configuration file's folder") {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "static-config-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  fs::create_directories(pattern + "/conf");
  fs::create_directories(pattern + "/web");
  std::string yaml = kGood;
  yaml += "  - match: { path_prefix: /web }\n    static: { root: ../web }\n";
  {
    std::ofstream(pattern + "/conf/balancer.yaml") << yaml;
  }
  auto loaded = balancer::loadConfigFile(pattern + "/conf/balancer.yaml");
  fs::remove_all(pattern);
  for (const auto& e : loaded.errors) {
    INFO(e.line << ":" << e.column << ": " << e.message);
  }
  REQUIRE(loaded.errors.empty());
  CHECK(fs::path(loaded.config->routes.back().static_files->root).lexically_normal() ==
        fs::path(pattern + "/web"));
}

TEST_CASE("compress: encodings in order, min_size, types and levels; defaults when absent") {
  std::string yaml = kGood;
  yaml += "    compress:\n      encodings: [br, gzip]\n      min_size: 2KiB\n"
          "      types: [text/HTML, +json, font/*]\n      level: { gzip: 6 }\n";
  auto ok = loadConfigString(yaml);
  REQUIRE(ok.errors.empty());
  const auto& c = *ok.config->routes[0].compress;
  using compression::Encoding;
  CHECK(c.encodings == std::vector<Encoding>{Encoding::kBrotli, Encoding::kGzip});
  CHECK(c.min_size == 2048);
  CHECK(c.types == std::vector<std::string>{"text/html", "+json", "font/*"});
  CHECK(c.levelOf(Encoding::kGzip) == 6);
  CHECK(c.levelOf(Encoding::kBrotli) == 4);  // the default
  CHECK(c.levelOf(Encoding::kZstd) == 3);

  std::string bare = kGood;
  bare += "    compress: {}\n";
  auto defaults = loadConfigString(bare);
  REQUIRE(defaults.errors.empty());
  const auto& d = *defaults.config->routes[0].compress;
  CHECK(d.encodings == std::vector<Encoding>{Encoding::kZstd, Encoding::kBrotli, Encoding::kGzip});
  CHECK(d.min_size == 1024);
  CHECK(d.types.size() == 7);
  CHECK_FALSE(loadConfigString(kGood).config->routes[0].compress);
}

TEST_CASE("compress: an unknown or repeated encoding, a level above its cap and a bad type are "
          "errors at their place") {
  std::string yaml = kGood;
  yaml += "    compress: { encodings: [gzip, lz4, gzip], level: { br: 11 }, types: [json, text/*] }\n";
  auto result = loadConfigString(yaml);
  REQUIRE_FALSE(result.config);
  struct Expect {
    const char* text;
    int column;
  };
  const Expect expected[] = {
      {"unknown encoding 'lz4' in compress.encodings (use zstd, br or gzip)", 35},
      {"duplicate encoding 'gzip'", 40},
      {"compress.level.br", 60},
      {"invalid media type 'json'", 74},
  };
  for (const auto& e : expected) {
    INFO(e.text);
    const ConfigError* found = findError(result.errors, e.text);
    REQUIRE(found != nullptr);
    CHECK(found->line == 25);
    CHECK(found->column == e.column);
  }
  std::string empty = kGood;
  empty += "    compress: { encodings: [] }\n";
  CHECK(findError(loadConfigString(empty).errors, "compress.encodings must be a list") != nullptr);
}
