#include "balancer/cache/freshness.h"

#include <catch2/catch.hpp>

#include "common/http/date.h"
#include "test_headers.h"

using namespace balancer::cache;
using cache_test::fields;

namespace {

constexpr int64_t kNow = 1764892800;  // seconds; the response arrived then
constexpr int64_t kNowMs = kNow * 1000;

ResponseTimes timesOf(const Fields& headers, int64_t request_ms = kNowMs,
                      int64_t response_ms = kNowMs) {
  return readResponseTimes(headers, request_ms, response_ms);
}

int64_t lifetimeOf(int status, const Fields& headers, HeuristicPolicy policy = {}) {
  return freshnessLifetimeMs(status, responseCacheControl(headers), timesOf(headers), policy);
}

std::string date(int64_t s) { return http::formatHttpDate(s); }

}  // namespace

TEST_CASE("s-maxage wins over max-age, which wins over Expires", "[cache]") {
  Fields all = fields({{"Cache-Control", "max-age=60, s-maxage=120"},
                       {"Date", date(kNow)},
                       {"Expires", date(kNow + 30)}});
  CHECK(lifetimeOf(200, all) == 120000);
  Fields no_s = fields(
      {{"Cache-Control", "max-age=60"}, {"Date", date(kNow)}, {"Expires", date(kNow + 30)}});
  CHECK(lifetimeOf(200, no_s) == 60000);
  Fields expires = fields({{"Date", date(kNow)}, {"Expires", date(kNow + 30)}});
  CHECK(lifetimeOf(200, expires) == 30000);
}

TEST_CASE("Expires counts from Date, or from the time of receipt without a Date", "[cache]") {
  CHECK(lifetimeOf(200, fields({{"Date", date(kNow - 100)}, {"Expires", date(kNow + 30)}})) ==
        130000);
  CHECK(lifetimeOf(200, fields({{"Expires", date(kNow + 30)}})) == 30000);
  CHECK(lifetimeOf(200, fields({{"Date", date(kNow)}, {"Expires", date(kNow - 30)}})) == 0);
}

TEST_CASE("an invalid Expires, max-age or duplicate max-age means already stale", "[cache]") {
  Fields lm = fields({{"Date", date(kNow)}, {"Last-Modified", date(kNow - 100000)}});
  CHECK(lifetimeOf(200, lm) > 0);  // the heuristic would apply...
  Fields bad_expires = lm;
  bad_expires.push_back({"Expires", "0"});
  CHECK(lifetimeOf(200, bad_expires) == 0);  // ...but an invalid Expires is explicit: expired
  Fields bad_max_age = fields({{"Cache-Control", "max-age=soon"}, {"Expires", date(kNow + 60)}});
  CHECK(lifetimeOf(200, bad_max_age) == 0);
  CHECK(lifetimeOf(200, fields({{"Cache-Control", "max-age=3600, max-age=1"}})) == 0);
  CHECK(lifetimeOf(200, fields({{"Cache-Control", "max-age=3600"},
                                {"Cache-Control", "max-age=1"}})) == 0);
}

TEST_CASE("heuristic freshness: 10% of Date - Last-Modified, capped", "[cache]") {
  Fields lm = fields({{"Date", date(kNow)}, {"Last-Modified", date(kNow - 1000)}});
  CHECK(lifetimeOf(200, lm) == 100000);
  Fields old = fields({{"Date", date(kNow)}, {"Last-Modified", date(kNow - 100 * 86400)}});
  CHECK(lifetimeOf(200, old) == 86400000);  // a day at most
  bool heuristic = false;
  CHECK(freshnessLifetimeMs(200, responseCacheControl(lm), timesOf(lm), {}, &heuristic) > 0);
  CHECK(heuristic);
}

TEST_CASE("heuristic freshness only for heuristically cacheable statuses or public",
          "[cache]") {
  Fields lm = fields({{"Date", date(kNow)}, {"Last-Modified", date(kNow - 1000)}});
  for (int status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}) {
    INFO(status);
    CHECK(lifetimeOf(status, lm) == 100000);
  }
  for (int status : {201, 302, 303, 307, 400, 403, 500, 502, 503}) {
    INFO(status);
    CHECK(lifetimeOf(status, lm) == 0);
  }
  Fields public_lm = lm;
  public_lm.push_back({"Cache-Control", "public"});
  CHECK(lifetimeOf(302, public_lm) == 100000);
}

TEST_CASE("the route's default_ttl applies only where a heuristic may", "[cache]") {
  HeuristicPolicy policy;
  policy.default_ttl_s = 30;
  CHECK(lifetimeOf(200, fields({{"Date", date(kNow)}}), policy) == 30000);
  CHECK(lifetimeOf(500, fields({{"Date", date(kNow)}}), policy) == 0);
  CHECK(lifetimeOf(200, fields({{"Cache-Control", "max-age=5"}}), policy) == 5000);
  CHECK(lifetimeOf(200, fields({{"Date", date(kNow)}})) == 0);  // no default: none
}

TEST_CASE("current age: Age plus response delay, apparent age, resident time", "[cache]") {
  // Age header 10 s, request took 2 s, stored for 5 s.
  ResponseTimes t = timesOf(fields({{"Age", "10"}, {"Date", date(kNow)}}), kNowMs - 2000, kNowMs);
  CHECK(currentAgeMs(t, kNowMs + 5000) == (10 + 2 + 5) * 1000);
  // The Date says the response is 30 s old when it arrived: apparent age wins.
  ResponseTimes late = timesOf(fields({{"Age", "10"}, {"Date", date(kNow - 30)}}));
  CHECK(currentAgeMs(late, kNowMs) == 30000);
  // A Date in the future gives no negative age.
  ResponseTimes future = timesOf(fields({{"Date", date(kNow + 300)}}));
  CHECK(currentAgeMs(future, kNowMs) == 0);
  // An invalid Age is ignored; a list's first member counts.
  CHECK(currentAgeMs(timesOf(fields({{"Age", "abc"}})), kNowMs) == 0);
  CHECK(currentAgeMs(timesOf(fields({{"Age", "7, 100"}})), kNowMs) == 7000);
}

TEST_CASE("reuse: fresh, stale, and what forbids serving stale", "[cache]") {
  CacheControl none;
  CacheControl plain = parseCacheControl("max-age=10");
  CHECK(decideReuse(none, plain, 10000, 9999) == Reuse::kFresh);
  CHECK(decideReuse(none, plain, 10000, 10000) == Reuse::kValidate);
  CacheControl swr = parseCacheControl("max-age=10, stale-while-revalidate=30");
  CHECK(decideReuse(none, swr, 10000, 39000) == Reuse::kStaleWhileRevalidate);
  CHECK(decideReuse(none, swr, 10000, 41000) == Reuse::kValidate);
  CacheControl max_stale = parseCacheControl("max-stale=5");
  CHECK(decideReuse(max_stale, plain, 10000, 14000) == Reuse::kStale);
  CHECK(decideReuse(max_stale, plain, 10000, 16000) == Reuse::kValidate);
  CHECK(decideReuse(parseCacheControl("max-stale"), plain, 10000, 999999) == Reuse::kStale);
  for (const char* strict : {"max-age=10, must-revalidate", "max-age=10, proxy-revalidate",
                             "s-maxage=10", "max-age=10, must-revalidate, "
                                            "stale-while-revalidate=60"}) {
    INFO(strict);
    CacheControl cc = parseCacheControl(strict);
    CHECK(decideReuse(parseCacheControl("max-stale"), cc, 10000, 11000) == Reuse::kValidate);
    CHECK(decideReuse(none, cc, 10000, 11000) == Reuse::kValidate);
  }
}

TEST_CASE("reuse: no-cache on either side and request max-age / min-fresh", "[cache]") {
  CacheControl none;
  CacheControl fresh = parseCacheControl("max-age=100");
  CHECK(decideReuse(none, parseCacheControl("max-age=100, no-cache"), 100000, 0) ==
        Reuse::kValidate);
  CHECK(decideReuse(parseCacheControl("no-cache"), fresh, 100000, 0) == Reuse::kValidate);
  CHECK(decideReuse(parseCacheControl("max-age=0"), fresh, 100000, 1000) == Reuse::kValidate);
  CHECK(decideReuse(parseCacheControl("max-age=5"), fresh, 100000, 4000) == Reuse::kFresh);
  CHECK(decideReuse(parseCacheControl("min-fresh=50"), fresh, 100000, 60000) ==
        Reuse::kValidate);
  CHECK(decideReuse(parseCacheControl("min-fresh=50"), fresh, 100000, 40000) == Reuse::kFresh);
}

TEST_CASE("stale-if-error: within the response's or the request's window", "[cache]") {
  CacheControl none;
  CacheControl sie = parseCacheControl("max-age=10, stale-if-error=60");
  CHECK(usableOnError(none, sie, 10000, 5000));   // fresh anyway
  CHECK(usableOnError(none, sie, 10000, 69000));
  CHECK_FALSE(usableOnError(none, sie, 10000, 71000));
  CHECK_FALSE(usableOnError(none, parseCacheControl("max-age=10"), 10000, 11000));
  CHECK(usableOnError(parseCacheControl("stale-if-error=5"), parseCacheControl("max-age=10"),
                      10000, 14000));
  CHECK_FALSE(usableOnError(none, parseCacheControl("max-age=10, stale-if-error=60, "
                                                    "must-revalidate"),
                            10000, 11000));
}

TEST_CASE("CDN-Cache-Control replaces Expires too", "[cache]") {
  CHECK(lifetimeOf(200, fields({{"CDN-Cache-Control", "max-age=0"},
                                {"Date", date(kNow)},
                                {"Expires", date(kNow + 100)}})) == 0);
  CHECK(lifetimeOf(200, fields({{"CDN-Cache-Control", "max-age=60"},
                                {"Date", date(kNow)},
                                {"Expires", "0"}})) == 60000);
  // Without a lifetime of its own: no Expires either, so none at all.
  CHECK(lifetimeOf(200, fields({{"CDN-Cache-Control", "must-revalidate"},
                                {"Date", date(kNow)},
                                {"Expires", date(kNow + 100)}})) == 0);
}
