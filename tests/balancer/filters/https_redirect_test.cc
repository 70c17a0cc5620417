#include "balancer/filters/https_redirect.h"

#include <catch2/catch.hpp>
#include <string>

#include "filter_fixture.h"

using balancer::filters::HttpsRedirect;
using namespace filters_test;

namespace {

// The Location the redirect gives for a request, checking it is a 308 with one header line.
std::string locationFor(FilterFixture& f, std::string_view target, std::string host,
                        int https_port = 443) {
  FilterContext& ctx = host.empty() ? f.request(target) : f.request(target, {{"Host", host}});
  ctx.request.target = {};  // a listener's filter runs before routing splits the target
  ctx.request.https_port = https_port;
  HttpsRedirect redirect;
  Verdict v = redirect.onRequestHead(ctx);
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 308);  // keeps the method and body
  CHECK_FALSE(v.close);
  const std::string prefix = "Location: ";
  REQUIRE(v.headers.size() > prefix.size() + 2);
  CHECK(v.headers.compare(0, prefix.size(), prefix) == 0);
  CHECK(v.headers.compare(v.headers.size() - 2, 2, "\r\n") == 0);
  CHECK(v.headers.find("\r\n") == v.headers.size() - 2);  // one line
  return v.headers.substr(prefix.size(), v.headers.size() - prefix.size() - 2);
}

}  // namespace

TEST_CASE("https_redirect sends to the same host and target on 443", "[filters]") {
  FilterFixture f;
  CHECK(locationFor(f, "/a/b", "shop.example") == "https://shop.example/a/b");
  CHECK(locationFor(f, "/", "shop.example") == "https://shop.example/");
}

TEST_CASE("https_redirect keeps the query", "[filters]") {
  FilterFixture f;
  CHECK(locationFor(f, "/search?q=shoes&page=2", "shop.example") ==
        "https://shop.example/search?q=shoes&page=2");
}

TEST_CASE("https_redirect appends the TLS port unless it is 443", "[filters]") {
  FilterFixture f;
  CHECK(locationFor(f, "/a?x=1", "shop.example", 8443) == "https://shop.example:8443/a?x=1");
  // The plain listener's port in Host is not the TLS one: it is dropped.
  CHECK(locationFor(f, "/a", "shop.example:8080") == "https://shop.example/a");
  CHECK(locationFor(f, "/a", "shop.example:8080", 8443) == "https://shop.example:8443/a");
}

TEST_CASE("https_redirect takes an absolute-form target's host and path", "[filters]") {
  FilterFixture f;
  CHECK(locationFor(f, "http://other.example:80/x/y?z=1", "ignored.example") ==
        "https://other.example/x/y?z=1");
}

TEST_CASE("https_redirect gives back the target as sent, not normalized", "[filters]") {
  FilterFixture f;
  CHECK(locationFor(f, "/a/./b/%7euser", "shop.example") == "https://shop.example/a/./b/%7euser");
}

TEST_CASE("https_redirect answers 400 when there is no host or no path to send to",
          "[filters]") {
  FilterFixture f;
  HttpsRedirect redirect;
  FilterContext& no_host = f.request("/p");  // HTTP/1.0 without Host
  no_host.request.target = {};
  Verdict v = redirect.onRequestHead(no_host);
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 400);
  CHECK(v.headers.find("Location") == std::string::npos);
  FilterContext& star = f.request("*", {{"Host", "a.example"}});  // OPTIONS *
  star.request.target = {};
  CHECK(redirect.onRequestHead(star).status == 400);
}
