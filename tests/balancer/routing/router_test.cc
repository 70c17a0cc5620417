#include <catch2/catch.hpp>

#include "balancer/routing/router.h"

using balancer::RouteConfig;
using balancer::Router;

namespace {
RouteConfig route(std::string prefix, std::string path = "", std::string host = "",
                  std::vector<std::string> methods = {}) {
  RouteConfig r;
  r.path_prefix = std::move(prefix);
  r.path = std::move(path);
  r.host = std::move(host);
  r.methods = std::move(methods);
  r.upstream = "u";
  return r;
}
}  // namespace

TEST_CASE("the longest prefix wins whatever the order") {
  std::vector<RouteConfig> routes = {route("/"), route("/api"), route("/api/products")};
  Router router(routes);
  CHECK(router.match("h", "/api/products/7", "GET") == 2);
  CHECK(router.match("h", "/api/orders", "GET") == 1);
  CHECK(router.match("h", "/index.html", "GET") == 0);
}

TEST_CASE("prefixes match at segment boundaries") {
  CHECK(Router::prefixMatches("/api", "/api"));
  CHECK(Router::prefixMatches("/api", "/api/x"));
  CHECK_FALSE(Router::prefixMatches("/api", "/apix"));
  CHECK(Router::prefixMatches("/api/", "/api/x"));
  CHECK(Router::prefixMatches("/", "/anything"));
  CHECK_FALSE(Router::prefixMatches("/api/x", "/api"));
}

TEST_CASE("an exact path beats a longer prefix") {
  std::vector<RouteConfig> routes = {route("/api/products/special"), route("", "/api/products")};
  Router router(routes);
  CHECK(router.match("h", "/api/products", "GET") == 1);
  CHECK(router.match("h", "/api/products/special", "GET") == 0);
  CHECK(router.match("h", "/api/products/x", "GET") == -1);
}

TEST_CASE("host routes beat host-less ones, wildcards match subdomains, any case, any port") {
  std::vector<RouteConfig> routes = {route("/"), route("/", "", "shop.test"),
                                     route("/", "", "*.cdn.test")};
  Router router(routes);
  CHECK(router.match("shop.test", "/", "GET") == 1);
  CHECK(router.match("SHOP.Test", "/", "GET") == 1);
  CHECK(router.match("img.cdn.test", "/", "GET") == 2);
  CHECK(router.match("cdn.test", "/", "GET") == 0);
  CHECK(router.match("other.test", "/", "GET") == 0);
}

TEST_CASE("methods filter routes; no match is -1") {
  std::vector<RouteConfig> routes = {route("/api", "", "", {"GET", "HEAD"}),
                                     route("/api", "", "", {"POST"})};
  Router router(routes);
  CHECK(router.match("h", "/api/x", "GET") == 0);
  CHECK(router.match("h", "/api/x", "POST") == 1);
  CHECK(router.match("h", "/api/x", "DELETE") == -1);
  CHECK(router.match("h", "/other", "GET") == -1);
}

TEST_CASE("targets split into host, path and query") {
  auto t = balancer::splitTarget("/a/b?x=1&y=2", "shop.test:8080");
  CHECK(t.host == "shop.test");
  CHECK(t.path == "/a/b");
  CHECK(t.query == "?x=1&y=2");
  auto absolute = balancer::splitTarget("http://other.test:81/p?q", "ignored");
  CHECK(absolute.host == "other.test");
  CHECK(absolute.path == "/p");
  CHECK(absolute.query == "?q");
  auto v6 = balancer::splitTarget("/", "[::1]:8080");
  CHECK(v6.host == "[::1]");
}

TEST_CASE("an absolute-form target gives its authority; a trailing dot leaves the host") {
  auto absolute = balancer::splitTarget("http://Other.test:81/p", "b.test");
  CHECK(absolute.authority == "Other.test:81");
  CHECK(absolute.host == "Other.test");
  CHECK(balancer::splitTarget("/p", "b.test").authority.empty());
  CHECK(balancer::splitTarget("/p", "shop.test.:8080").host == "shop.test");
  CHECK(balancer::splitTarget("http://shop.test./p", "x").host == "shop.test");
}

TEST_CASE("paths are normalized before matching; climbing above the root is refused") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"/a/b/../c", "/a/c"},       {"/a/./b", "/a/b"},          {"/a/b/..", "/a/"},
      {"/a/.", "/a/"},             {"/%61pi/x", "/api/x"},      {"/a%2fb", "/a%2Fb"},
      {"/a/%2E%2E/admin", "/admin"}, {"/a//b", "/a//b"},        {"/.well-known/x", "/.well-known/x"},
      {"/a/..b/c", "/a/..b/c"},    {"/%7euser", "/~user"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    std::string storage;
    auto t = balancer::splitTarget(c.in, "h", &storage);
    CHECK_FALSE(t.path_invalid);
    CHECK(t.path == c.out);
  }
  for (const char* climbing : {"/..", "/a/../..", "/%2e%2e/etc/passwd", "/a/../../b", "/a%zz",
                               "/%%36a", "/a%2", "/a%"}) {
    INFO(climbing);
    std::string storage;
    CHECK(balancer::splitTarget(climbing, "h", &storage).path_invalid);
  }
  // Most paths need nothing done and are not copied.
  std::string storage;
  std::string_view plain = "/api/products/7";
  auto t = balancer::splitTarget(plain, "h", &storage);
  CHECK(t.path.data() == plain.data());
  CHECK(storage.empty());
}
