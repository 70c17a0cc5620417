#include "balancer/cache/storability.h"

#include <catch2/catch.hpp>

#include "test_headers.h"

using namespace balancer::cache;
using cache_test::headers;

namespace {

StoreVerdict verdict(int status, const http::HeaderList& response,
                     const http::HeaderList& request = {}, std::string_view method = "GET",
                     StoreOptions options = {}) {
  return mayStore(method, request, requestCacheControl(request), status, response,
                  responseCacheControl(response), options);
}

}  // namespace

TEST_CASE("a fresh GET 200 is stored; other methods are not", "[cache]") {
  auto response = headers({{"Cache-Control", "max-age=60"}});
  CHECK(verdict(200, response) == StoreVerdict::kStore);
  CHECK(verdict(200, response, {}, "HEAD") == StoreVerdict::kMethod);
  CHECK(verdict(200, response, {}, "POST") == StoreVerdict::kMethod);
}

TEST_CASE("partial, 304 and non-final statuses are not stored; others with freshness are",
          "[cache]") {
  auto response = headers({{"Cache-Control", "max-age=60"}});
  CHECK(verdict(206, response) == StoreVerdict::kStatus);
  CHECK(verdict(304, response) == StoreVerdict::kStatus);
  CHECK(verdict(100, response) == StoreVerdict::kStatus);
  CHECK(verdict(302, response) == StoreVerdict::kStore);
  CHECK(verdict(500, response) == StoreVerdict::kStore);
  CHECK(verdict(299, response) == StoreVerdict::kStore);  // explicit freshness suffices
}

TEST_CASE("no-store in the request or the response; must-understand overrides it",
          "[cache]") {
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60, no-store"}})) ==
        StoreVerdict::kNoStore);
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60"}}),
                headers({{"Cache-Control", "no-store"}})) == StoreVerdict::kNoStore);
  auto understood = headers({{"Cache-Control", "max-age=60, no-store, must-understand"}});
  CHECK(verdict(200, understood) == StoreVerdict::kStore);
  CHECK(verdict(299, understood) == StoreVerdict::kStatus);
}

TEST_CASE("private is never stored by a shared cache; private=\"field\" is", "[cache]") {
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60, private"}})) ==
        StoreVerdict::kPrivate);
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60, private=\"X-User\""}})) ==
        StoreVerdict::kStore);
}

TEST_CASE("a request with Authorization only with public, s-maxage or must-revalidate",
          "[cache]") {
  auto auth = headers({{"Authorization", "Bearer x"}});
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60"}}), auth) ==
        StoreVerdict::kAuthorization);
  for (const char* ok : {"max-age=60, public", "s-maxage=60", "max-age=60, must-revalidate"}) {
    INFO(ok);
    CHECK(verdict(200, headers({{"Cache-Control", ok}}), auth) == StoreVerdict::kStore);
  }
}

TEST_CASE("without explicit freshness only heuristically cacheable statuses or public",
          "[cache]") {
  auto lm = headers({{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}});
  CHECK(verdict(200, lm) == StoreVerdict::kStore);
  CHECK(verdict(404, headers({})) == StoreVerdict::kStore);  // stored, with no lifetime
  CHECK(verdict(302, lm) == StoreVerdict::kNoFreshness);
  CHECK(verdict(500, headers({})) == StoreVerdict::kNoFreshness);
  CHECK(verdict(302, headers({{"Cache-Control", "public"}})) == StoreVerdict::kStore);
  CHECK(verdict(302, headers({{"Expires", "invalid"}})) == StoreVerdict::kStore);
}

TEST_CASE("Set-Cookie only where the route says so; Vary: * never", "[cache]") {
  auto cookie = headers({{"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=1"}});
  CHECK(verdict(200, cookie) == StoreVerdict::kSetCookie);
  StoreOptions allow;
  allow.store_set_cookie = true;
  CHECK(verdict(200, cookie, {}, "GET", allow) == StoreVerdict::kStore);
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60"}, {"Vary", "Accept, *"}})) ==
        StoreVerdict::kVaryStar);
}

TEST_CASE("stored fields drop hop-by-hop, Connection-named and no-cache/private-named ones",
          "[cache]") {
  auto response = headers({{"Cache-Control", "max-age=60, no-cache=\"X-A\", private=\"x-b\""},
                           {"Connection", "X-Hop, keep-alive"},
                           {"Keep-Alive", "timeout=5"},
                           {"Transfer-Encoding", "chunked"},
                           {"Content-Length", "5"},
                           {"X-Hop", "1"},
                           {"X-A", "2"},
                           {"X-B", "3"},
                           {"Proxy-Authentication-Info", "x"},
                           {"Proxy-Connection", "keep-alive"},
                           {"TE", "trailers"},
                           {"ETag", "\"v1\""}});
  Fields stored = storedFields(response, responseCacheControl(response));
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].name == "Cache-Control");
  CHECK(stored[1].name == "ETag");
  CHECK(stored[1].value == "\"v1\"");
}

TEST_CASE("CDN-Cache-Control decides storage over Cache-Control", "[cache]") {
  CHECK(verdict(200, headers({{"Cache-Control", "no-store"},
                              {"CDN-Cache-Control", "max-age=60"}})) == StoreVerdict::kStore);
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60"},
                              {"CDN-Cache-Control", "no-store"}})) == StoreVerdict::kNoStore);
  CHECK(verdict(200, headers({{"Cache-Control", "max-age=60"},
                              {"CDN-Cache-Control", "private"}})) == StoreVerdict::kPrivate);
  // Its Expires does not count: a 299 needs a lifetime of the targeted field's own.
  CHECK(verdict(299, headers({{"CDN-Cache-Control", "public"},
                              {"Expires", "Thu, 01 Jan 2099 00:00:00 GMT"}})) ==
        StoreVerdict::kStore);  // public still allows it
  CHECK(verdict(299, headers({{"CDN-Cache-Control", "must-revalidate"},
                              {"Expires", "Thu, 01 Jan 2099 00:00:00 GMT"}})) ==
        StoreVerdict::kNoFreshness);
}
