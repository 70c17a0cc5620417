#include "balancer/cache/cache_control.h"

#include <catch2/catch.hpp>

#include "test_headers.h"

using balancer::cache::CacheControl;
using balancer::cache::parseCacheControl;
using balancer::cache::requestCacheControl;
using balancer::cache::responseCacheControl;
using cache_test::headers;

TEST_CASE("cache-control directives are read case-insensitively, tokens or quoted",
          "[cache]") {
  CacheControl cc = parseCacheControl("Max-Age=60, S-MAXAGE=\"120\", public, Must-Revalidate");
  CHECK(cc.max_age.usable());
  CHECK(cc.max_age.seconds == 60);
  CHECK(cc.s_maxage.usable());
  CHECK(cc.s_maxage.seconds == 120);
  CHECK(cc.is_public);
  CHECK(cc.must_revalidate);
  CHECK_FALSE(cc.no_store);
  CHECK_FALSE(cc.conflicting);
}

TEST_CASE("a malformed delta-seconds is present but not valid", "[cache]") {
  for (const char* value : {"max-age=abc", "max-age=-1", "max-age=1.5", "max-age=", "max-age",
                            "max-age=\"\""}) {
    CacheControl cc = parseCacheControl(value);
    INFO(value);
    CHECK(cc.max_age.present);
    CHECK_FALSE(cc.max_age.valid);
  }
  // No whitespace around '=': before it the name is another one, after it the value is bad.
  CHECK_FALSE(parseCacheControl("max-age =5").max_age.present);
  CHECK_FALSE(parseCacheControl("max-age= 5").max_age.valid);
  CHECK(parseCacheControl("max-age=003600").max_age.seconds == 3600);
  CHECK_FALSE(parseCacheControl("max-age='3600'").max_age.valid);
}

TEST_CASE("a delta-seconds past 2^31 is taken as 2^31", "[cache]") {
  CacheControl cc = parseCacheControl("max-age=99999999999999999999999");
  CHECK(cc.max_age.valid);
  CHECK(cc.max_age.seconds == (int64_t{1} << 31));
}

TEST_CASE("a duplicated directive with another argument makes the message conflicting",
          "[cache]") {
  CacheControl same = parseCacheControl("max-age=10, max-age=10");
  CHECK_FALSE(same.conflicting);
  CacheControl other = parseCacheControl("max-age=10, max-age=3600");
  CHECK(other.conflicting);
  CHECK(other.max_age.seconds == 10);  // the first one is kept
}

TEST_CASE("no-cache and private list field names; without names they cover everything",
          "[cache]") {
  CacheControl cc = parseCacheControl("no-cache=\"Set-Cookie, X-Secret\", private=\"X-User\"");
  CHECK_FALSE(cc.no_cache);
  CHECK_FALSE(cc.is_private);
  CHECK(cc.no_cache_fields == std::vector<std::string>{"set-cookie", "x-secret"});
  CHECK(cc.private_fields == std::vector<std::string>{"x-user"});
  CHECK(parseCacheControl("no-cache").no_cache);
  CHECK(parseCacheControl("private").is_private);
  CHECK(parseCacheControl("no-cache=\"\"").no_cache);  // an empty list: the strict reading
}

TEST_CASE("a directive inside a quoted argument is not a directive", "[cache]") {
  CHECK(parseCacheControl("extension=\"max-age=3600\", max-age=1").max_age.seconds == 1);
  CHECK(parseCacheControl("max-age=1, extension=\"max-age=3600\"").max_age.seconds == 1);
  CHECK_FALSE(parseCacheControl("max-age=1, extension=\"max-age=3600\"").conflicting);
}

TEST_CASE("commas inside a quoted argument do not split directives", "[cache]") {
  CacheControl cc = parseCacheControl("private=\"a, b\", max-age=5");
  CHECK(cc.private_fields.size() == 2);
  CHECK(cc.max_age.seconds == 5);
}

TEST_CASE("request directives: max-stale with and without a limit, min-fresh, only-if-cached",
          "[cache]") {
  CacheControl any = parseCacheControl("max-stale");
  CHECK(any.max_stale);
  CHECK_FALSE(any.max_stale_limit.present);
  CacheControl limited = parseCacheControl("max-stale=30, min-fresh=5, only-if-cached");
  CHECK(limited.max_stale_limit.seconds == 30);
  CHECK(limited.min_fresh.seconds == 5);
  CHECK(limited.only_if_cached);
}

TEST_CASE("cache-control on several lines is one list", "[cache]") {
  CacheControl cc = responseCacheControl(
      headers({{"Cache-Control", "public"}, {"Cache-Control", "max-age=7"}}));
  CHECK(cc.is_public);
  CHECK(cc.max_age.seconds == 7);
}

TEST_CASE("Pragma: no-cache counts for a request only without Cache-Control", "[cache]") {
  CHECK(requestCacheControl(headers({{"Pragma", "no-cache"}})).no_cache);
  CHECK_FALSE(
      requestCacheControl(headers({{"Pragma", "no-cache"}, {"Cache-Control", "max-age=5"}}))
          .no_cache);
  CHECK_FALSE(responseCacheControl(headers({{"Pragma", "no-cache"}})).no_cache);
}

TEST_CASE("unknown extensions are ignored", "[cache]") {
  CacheControl cc = parseCacheControl("foo=\"bar\", max-age=5, community=\"UCI\"");
  CHECK(cc.max_age.seconds == 5);
  CHECK_FALSE(cc.conflicting);
}

TEST_CASE("CDN-Cache-Control, valid and not empty, replaces Cache-Control (RFC 9213)",
          "[cache]") {
  CacheControl cc = responseCacheControl(
      headers({{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "foobar, max-age=10000"}}));
  CHECK(cc.targeted);
  CHECK_FALSE(cc.no_store);
  CHECK(cc.max_age.usable());
  CHECK(cc.max_age.seconds == 10000);
  cc = responseCacheControl(
      headers({{"Cache-Control", "max-age=10000"}, {"CDN-Cache-Control", "private"}}));
  CHECK(cc.is_private);
  CHECK_FALSE(cc.max_age.present);
  cc = responseCacheControl(headers({{"CDN-Cache-Control", "no-cache=\"set-cookie\""}}));
  CHECK_FALSE(cc.no_cache);
  CHECK(cc.no_cache_fields == std::vector<std::string>{"set-cookie"});
  CHECK(responseCacheControl(headers({{"CDN-Cache-Control", "max-age=99999999999"}}))
            .max_age.seconds == int64_t{1} << 31);
  // Not a Dictionary, not an Integer where one is due, or empty: Cache-Control counts.
  for (const char* ignored :
       {"max-age=10000, &&&&&", "max-age=\"10000\"", "max-age=1.5", "max-age=-1", "MaX-aGe=1",
        "max-age =100", "no-cache=1", ""}) {
    INFO(ignored);
    cc = responseCacheControl(
        headers({{"Cache-Control", "no-store"}, {"CDN-Cache-Control", ignored}}));
    CHECK_FALSE(cc.targeted);
    CHECK(cc.no_store);
  }
}
