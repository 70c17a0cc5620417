#include <catch2/catch.hpp>

#include "services/kit/router.h"

// Which handler ran, with which parameters. The Responder goes nowhere (no connection).

TEST_CASE("router matches literal and parameter segments") {
  kit::Router router;
  std::string ran;
  std::string id;
  auto mark = [&](std::string name) {
    return [&, name](const http::Request&, const kit::Params& p, http::Responder) {
      ran = name;
      id = std::string(p.get("id"));
    };
  };
  router.add("GET", "/api/orders", mark("list"));
  router.add("POST", "/api/orders", mark("create"));
  router.add("GET", "/api/orders/{id}", mark("get"));
  router.add("POST", "/api/orders/{id}/status", mark("status"));

  http::HeaderList headers;
  auto run = [&](const char* method, const char* path) {
    ran.clear();
    id.clear();
    http::Request request;
    request.method_name = method;
    request.path = path;
    request.headers = &headers;
    std::string_view pattern;
    router.handle(request, http::Responder(), &pattern);
    return std::string(pattern);
  };
  CHECK(run("GET", "/api/orders") == "/api/orders");
  CHECK(ran == "list");
  CHECK(run("POST", "/api/orders") == "/api/orders");
  CHECK(ran == "create");
  CHECK(run("GET", "/api/orders/17") == "/api/orders/{id}");
  CHECK(ran == "get");
  CHECK(id == "17");
  CHECK(run("POST", "/api/orders/17/status") == "/api/orders/{id}/status");
  CHECK(ran == "status");
  CHECK(run("HEAD", "/api/orders/5") == "/api/orders/{id}");  // HEAD is served by GET
  CHECK(run("GET", "/api/orders/") == "");                    // empty parameter: no match
  CHECK(ran.empty());
  CHECK(run("DELETE", "/api/orders/5") == "");                // 405
  CHECK(run("GET", "/api/orders/5/status/x") == "");
  CHECK(run("GET", "/api/order") == "");
}

TEST_CASE("params parse positive ids only") {
  kit::Router router;
  int64_t seen = 0;
  router.add("GET", "/p/{id}", [&](const http::Request&, const kit::Params& p, http::Responder) {
    seen = p.id("id");
  });
  http::HeaderList headers;
  for (auto [path, want] : std::vector<std::pair<const char*, int64_t>>{
           {"/p/12", 12}, {"/p/0", -1}, {"/p/-4", -1}, {"/p/1x", -1},
           {"/p/99999999999999999999", -1}}) {
    http::Request request;
    request.method_name = "GET";
    request.path = path;
    request.headers = &headers;
    std::string_view pattern;
    router.handle(request, http::Responder(), &pattern);
    CHECK(seen == want);
  }
}
