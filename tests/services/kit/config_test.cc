#include <catch2/catch.hpp>

#include <cstdlib>

#include "services/kit/config.h"

namespace {

kit::Config load(const char* yaml) { return kit::Config::fromYaml(yaml, "svc.yaml"); }

}  // namespace

TEST_CASE("config reads dotted paths from the file with defaults") {
  kit::Config c = load("listen: 127.0.0.1:7101\ndatabase:\n  url: postgresql://x/y\n  pool_size: 3\n"
                       "cache:\n  ttl: 2s\n  enabled: yes\n");
  CHECK(c.string("listen", "") == "127.0.0.1:7101");
  CHECK(c.string("database.url", "") == "postgresql://x/y");
  CHECK(c.integer("database.pool_size", 6) == 3);
  CHECK(c.duration("cache.ttl", util::Millis(60000)) == util::Millis(2000));
  CHECK(c.boolean("cache.enabled", false));
  CHECK(c.integer("missing.key", 42) == 42);
  CHECK(c.string("database.missing", "d") == "d");
}

TEST_CASE("config: the environment overrides the file, --set overrides both") {
  kit::Config c = load("database:\n  pool_size: 3\n");
  setenv("SHOP_DATABASE_POOL_SIZE", "9", 1);
  CHECK(c.integer("database.pool_size", 6) == 9);
  const char* argv[] = {"svc", "--set", "database.pool_size=11", "--listen", "127.0.0.1:1"};
  kit::Config args = kit::Config::fromArgs(5, const_cast<char**>(argv));
  CHECK(args.integer("database.pool_size", 6) == 11);
  CHECK(args.string("listen", "") == "127.0.0.1:1");
  unsetenv("SHOP_DATABASE_POOL_SIZE");
}

TEST_CASE("config errors name the file, line and column") {
  kit::Config c = load("database:\n  pool_size: lots\n");
  try {
    c.integer("database.pool_size", 1);
    FAIL("no error");
  } catch (const kit::ConfigError& e) {
    CHECK(std::string(e.what()).find("svc.yaml:2:14") != std::string::npos);
  }
  CHECK_THROWS_AS(load("a: [1, 2\n"), kit::ConfigError);
  CHECK_THROWS_AS(load("cache: {ttl: forever}\n").duration("cache.ttl", util::Millis(1)),
                  kit::ConfigError);
  const char* argv[] = {"svc", "--bogus"};
  CHECK_THROWS_AS(kit::Config::fromArgs(2, const_cast<char**>(argv)), kit::ConfigError);
}

TEST_CASE("config lists and unused keys") {
  kit::Config c = load("seed:\n  roles: [admin, courier]\ntypo_key: 1\ncache:\n  ttl: 1s\n");
  CHECK(c.strings("seed.roles") == std::vector<std::string>{"admin", "courier"});
  c.duration("cache.ttl", util::Millis(1));
  CHECK(c.unusedFileKeys() == std::vector<std::string>{"typo_key"});
}

TEST_CASE("a declared setting: its default when absent, else the file, the environment, --set") {
  const kit::Setting<int64_t> pool{"database.pool_size", 6, "connections"};
  const kit::Setting<util::Millis> ttl{"cache.ttl", util::Millis(60000), "how long"};
  const kit::Setting<std::string> url{"database.url", "postgresql://default", "where"};
  const kit::Setting<bool> enabled{"relay.enabled", true, "whether"};
  kit::Config empty = load("other: 1\n");
  CHECK(empty.get(pool) == 6);
  CHECK(empty.get(ttl) == util::Millis(60000));
  CHECK(empty.get(url) == "postgresql://default");
  CHECK(empty.get(enabled));

  kit::Config file = load("database:\n  pool_size: 3\ncache: { ttl: 2s }\nrelay: { enabled: no }\n");
  CHECK(file.get(pool) == 3);
  CHECK(file.get(ttl) == util::Millis(2000));
  CHECK_FALSE(file.get(enabled));
  setenv("SHOP_DATABASE_URL", "postgresql://env", 1);
  CHECK(file.get(url) == "postgresql://env");
  unsetenv("SHOP_DATABASE_URL");
  CHECK(file.unusedFileKeys().empty());  // a setting read through get() counts as used

  kit::Config bad = load("database:\n  pool_size: lots\n");
  try {
    bad.get(pool);
    FAIL("no error");
  } catch (const kit::ConfigError& e) {
    CHECK(std::string(e.what()).find("svc.yaml:2:14") != std::string::npos);
  }
}
