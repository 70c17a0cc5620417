#include "balancer/admin/admin_access.h"

#include <catch2/catch.hpp>

#include "common/http/header_list.h"

using balancer::AdminAccess;

namespace {

// A request with the given header fields.
struct Req {
  http::HeaderList headers;
  http::Request request;
  explicit Req(std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
               llhttp_method_t method = HTTP_GET) {
    for (auto [name, value] : fields) {
      headers.appendName(name.data(), name.size());
      headers.endName();
      headers.appendValue(value.data(), value.size());
    }
    request.headers = &headers;
    request.method = method;
    request.path = "/upstreams";
  }
};

}  // namespace

TEST_CASE("admin access: loopback Hosts and the listed ones, nothing that only looks like them",
          "[admin]") {
  AdminAccess access("", {"Admin.Shop.Internal"});
  for (const char* host : {"127.0.0.1", "127.0.0.1:9901", "127.8.9.10", "localhost",
                           "LOCALHOST:9901", "[::1]:9901", "[::1]", "[::1]:", "status.localhost",
                           "admin.shop.internal:9901"}) {
    INFO(host);
    CHECK(access.hostAllowed(host));
  }
  for (const char* host : {"evil.example", "127.0.0.1.evil.example", "localhost.evil", "",
                           "::1", "[::2]:9901", "128.0.0.1", "10.0.0.1:9901",
                           "xadmin.shop.internal", "[::1]junk", "[::1]:99x", "127.0.0.1:80:80",
                           "localhost:123456"}) {
    INFO(host);
    CHECK_FALSE(access.hostAllowed(host));
  }
}

TEST_CASE("admin access: refusals, in the order a browser's request meets them", "[admin]") {
  AdminAccess access("tok", {});
  CHECK(access.check(Req({{"Host", "127.0.0.1:9901"}}).request).status == 0);
  CHECK(access.check(Req({}).request).status == 0);  // no Host: a tool, not a browser
  CHECK(access.check(Req({{"Host", "evil.example"}}).request).status == 403);
  // The token opens a foreign Host (a scraper on another machine); rebinding has no token.
  CHECK(access.check(Req({{"Host", "evil.example"}, {"Authorization", "Bearer tok"}}).request)
            .status == 0);
  CHECK(access.check(Req({{"Host", "evil.example"}, {"Authorization", "Bearer tox"}}).request)
            .status == 403);
  CHECK(access.check(Req({{"Host", "localhost"}, {"Sec-Fetch-Site", "cross-site"}}).request)
            .status == 403);
  CHECK(access.check(Req({{"Host", "localhost"}, {"Sec-Fetch-Site", "none"}}).request).status ==
        0);
  CHECK(access.check(Req({{"Host", "localhost:1"}, {"Origin", "http://localhost:2"}}).request)
            .status == 403);
  CHECK(access.check(Req({{"Host", "localhost:1"}, {"Origin", "null"}}).request).status == 403);
  CHECK(access.check(Req({{"Host", "localhost:1"}, {"Origin", "http://localhost:1"}}).request)
            .status == 0);
  // Writes: JSON only; from a browser, with the page's CSRF token.
  CHECK(access.check(Req({{"Host", "localhost"}}, HTTP_POST).request).status == 415);
  CHECK(access.check(Req({{"Content-Type", "text/plain"}}, HTTP_PUT).request).status == 415);
  CHECK(access.check(Req({{"Content-Type", " Application/JSON ; charset=utf-8"}}, HTTP_POST)
                         .request)
            .status == 0);
  CHECK(access.check(Req({}, HTTP_DELETE).request).status == 0);  // no body, no type
  CHECK(access.check(Req({{"Host", "localhost:1"}, {"Origin", "http://localhost:1"}}, HTTP_DELETE)
                         .request)
            .status == 403);
  std::string token = access.csrfToken();
  CHECK(token.size() == 32);
  CHECK(access.check(Req({{"Host", "localhost:1"},
                          {"Origin", "http://localhost:1"},
                          {"X-CSRF-Token", token}},
                         HTTP_DELETE)
                         .request)
            .status == 0);
  CHECK(AdminAccess("", {}).csrfToken() != token);  // per process (and per server)
}
