#include "balancer/filters/cors.h"

#include <algorithm>

#include <catch2/catch.hpp>

#include "filter_fixture.h"

using balancer::CorsConfig;
using balancer::filters::Cors;
using balancer::filters::Verdict;
using namespace filters_test;

namespace {

CorsConfig shopCors() {
  CorsConfig c;
  c.origins = {"https://shop.test"};
  c.methods = {"GET", "POST", "PUT"};
  c.headers = {"Authorization", "X-Trace"};
  c.expose = {"X-Request-Id"};
  c.max_age = balancer::Millis(600000);
  return c;
}

bool has(const std::string& lines, std::string_view line) {
  return lines.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("cors: a listed origin's preflight is answered 204 here, others 403 with nothing",
          "[filters]") {
  Cors cors(shopCors());
  FilterFixture f;
  auto& ctx = f.request("/api", {{"Origin", "https://shop.test"},
                                 {"Access-Control-Request-Method", "PUT"},
                                 {"Access-Control-Request-Headers", "authorization, content-type"}});
  ctx.request.method = "OPTIONS";
  Verdict v = cors.onRequestHead(ctx);
  REQUIRE(v.action == Verdict::Action::kRespond);
  REQUIRE(v.response);
  CHECK(v.response->status == 204);
  const std::string& h = v.response->headers;
  CHECK(has(h, "Access-Control-Allow-Origin: https://shop.test\r\n"));
  CHECK(has(h, "Access-Control-Allow-Methods: GET, POST, PUT\r\n"));
  CHECK(has(h, "Access-Control-Allow-Headers: authorization, content-type\r\n"));
  CHECK(has(h, "Access-Control-Max-Age: 600\r\n"));
  CHECK(has(h, "Vary: Origin"));
  CHECK_FALSE(has(h, "Access-Control-Allow-Credentials"));

  auto refused = [&](std::initializer_list<std::pair<std::string, std::string>> fields) {
    auto& c = f.request("/api", fields);
    c.request.method = "OPTIONS";
    Verdict r = cors.onRequestHead(c);
    CHECK(r.action == Verdict::Action::kReply);
    CHECK(r.status == 403);
    CHECK_FALSE(has(r.headers, "Access-Control-Allow"));
  };
  refused({{"Origin", "https://evil.test"}, {"Access-Control-Request-Method", "GET"}});
  refused({{"Origin", "https://shop.test"}, {"Access-Control-Request-Method", "DELETE"}});
  refused({{"Origin", "https://shop.test"},
           {"Access-Control-Request-Method", "GET"},
           {"Access-Control-Request-Headers", "x-secret"}});

  // OPTIONS without the preflight's header is an ordinary request: it goes on.
  auto& plain = f.request("/api", {{"Origin", "https://shop.test"}});
  plain.request.method = "OPTIONS";
  CHECK(cors.onRequestHead(plain).goesOn());
}

TEST_CASE("cors: actual requests get the allow headers for listed origins only", "[filters]") {
  Cors cors(shopCors());
  FilterFixture f;
  auto& ctx = f.request("/api", {{"Origin", "https://shop.test"}});
  ctx.request.method = "GET";
  Verdict v = cors.onRequestHead(ctx);
  REQUIRE(v.goesOn());
  CHECK(has(v.headers, "Access-Control-Allow-Origin: https://shop.test\r\n"));
  CHECK(has(v.headers, "Access-Control-Expose-Headers: X-Request-Id\r\n"));
  CHECK(has(v.headers, "Vary: Origin\r\n"));
  // The upstream's own answer is replaced by the route's, never sent beside it.
  const auto& replaced = f.replaced_response_headers;
  CHECK(std::find(replaced.begin(), replaced.end(), "Access-Control-Allow-Origin") !=
        replaced.end());

  auto& other = f.request("/api", {{"Origin", "https://evil.test"}});
  other.request.method = "GET";
  Verdict o = cors.onRequestHead(other);
  REQUIRE(o.goesOn());
  CHECK_FALSE(has(o.headers, "Access-Control"));
  CHECK(has(o.headers, "Vary: Origin\r\n"));  // a cache must not serve one to the other

  CorsConfig any;
  any.origins = {"*"};
  Cors open(any);
  auto& third = f.request("/api", {{"Origin", "https://anyone.test"}});
  third.request.method = "GET";
  Verdict a = open.onRequestHead(third);
  CHECK(has(a.headers, "Access-Control-Allow-Origin: *\r\n"));
  CHECK_FALSE(has(a.headers, "Vary: Origin"));  // the same for every origin

  CorsConfig creds = shopCors();
  creds.credentials = true;
  Cors with_creds(creds);
  auto& fourth = f.request("/api", {{"Origin", "https://shop.test"}});
  fourth.request.method = "GET";
  Verdict c = with_creds.onRequestHead(fourth);
  CHECK(has(c.headers, "Access-Control-Allow-Credentials: true\r\n"));
}
