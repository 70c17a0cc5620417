#include <catch2/catch.hpp>

#include "common/http/date.h"
#include "common/http/header_list.h"

using http::formatHttpDate;
using http::parseHttpDate;

namespace {
constexpr int64_t k1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)
constexpr int64_t k2026 = 1796428800;  // 2026-12-05, a "now" for two-digit years
}  // namespace

TEST_CASE("an HTTP-date is formatted as an IMF-fixdate") {
  CHECK(formatHttpDate(k1994) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(formatHttpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(formatHttpDate(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
  CHECK(formatHttpDate(4102444799) == "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST_CASE("the three HTTP-date forms parse to the same time") {
  CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == k1994);
  CHECK(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", k2026) == k1994);
  CHECK(parseHttpDate("Sun Nov  6 08:49:37 1994") == k1994);
  CHECK(parseHttpDate("Thu Nov 26 08:49:37 1994") == k1994 + 20 * 86400);
}

TEST_CASE("formatting and parsing round-trip") {
  for (int64_t t : {int64_t{0}, k1994, k2026, int64_t{1700000000}, int64_t{2147483648}}) {
    INFO(t);
    CHECK(parseHttpDate(formatHttpDate(t)) == t);
  }
}

TEST_CASE("an RFC 850 two-digit year is the most recent past one within 50 years") {
  // In 2026: 76 is 2076 (50 years ahead), 77 is 1977 (51 years ahead would be too far).
  CHECK(parseHttpDate("Thursday, 01-Jan-76 00:00:00 GMT", k2026) ==
        parseHttpDate("Wed, 01 Jan 2076 00:00:00 GMT"));
  CHECK(parseHttpDate("Saturday, 01-Jan-77 00:00:00 GMT", k2026) ==
        parseHttpDate("Sat, 01 Jan 1977 00:00:00 GMT"));
  CHECK(parseHttpDate("Friday, 01-Jan-27 00:00:00 GMT", k2026) ==
        parseHttpDate("Fri, 01 Jan 2027 00:00:00 GMT"));
}

TEST_CASE("malformed and impossible dates do not parse") {
  for (const char* text : {
           "",
           "Sun, 06 Nov 1994 08:49:37",          // no GMT
           "Sun, 06 Nov 1994 08:49:37 UTC",      // another zone
           "sun, 06 Nov 1994 08:49:37 GMT",      // names are case-sensitive
           "Sun, 6 Nov 1994 08:49:37 GMT",       // a one-digit day in IMF-fixdate
           "Sun, 06 Nov 94 08:49:37 GMT",        // a two-digit year in IMF-fixdate
           "Sun, 31 Feb 1994 08:49:37 GMT",      // no 31st of February
           "Sun, 29 Feb 1900 08:49:37 GMT",      // 1900 is not a leap year
           "Sun, 06 Nov 1994 24:00:00 GMT",      // hour 24
           "Sun, 06 Nov 1994 08:60:00 GMT",      // minute 60
           "Sun, 06 Nov 1994 08:49:37 GMT junk",  // trailing bytes
           " Sun, 06 Nov 1994 08:49:37 GMT",     // leading space (the caller trims OWS)
           "Sun Nov 6 08:49:37 1994",            // asctime's day is space-padded
           "1994-11-06T08:49:37Z",
           "784111777",
       }) {
    INFO(text);
    CHECK_FALSE(parseHttpDate(text, k2026));
  }
}

TEST_CASE("a leap second is accepted and read as the second before it") {
  CHECK(parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT") ==
        parseHttpDate("Sat, 31 Dec 2016 23:59:59 GMT"));
}

// What a cache reads Date, Expires and Last-Modified with (these were the cache's own
// parser's cases, balancer/cache/http_date, before it was merged into this one).
TEST_CASE("a cache reads names and GMT in any case, and two-digit years near now") {
  using http::parseHttpDateAnyCase;
  constexpr int64_t kExpected = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parseHttpDateAnyCase("Sun, 06 Nov 1994 08:49:37 GMT") == kExpected);
  CHECK(parseHttpDateAnyCase("Sunday, 06-Nov-94 08:49:37 GMT", k2026) == kExpected);
  CHECK(parseHttpDateAnyCase("Sun Nov  6 08:49:37 1994") == kExpected);
  CHECK(parseHttpDateAnyCase(http::trimOws(" Sun, 06 Nov 1994 08:49:37 GMT ")) == kExpected);
  CHECK(parseHttpDateAnyCase("THU, 18 AUG 2050 02:01:18 gMT") ==
        parseHttpDate("Thu, 18 Aug 2050 02:01:18 GMT"));
  CHECK(parseHttpDateAnyCase("thursday, 18-aug-50 02:01:18 gmt", k2026) ==
        parseHttpDate("Thu, 18 Aug 2050 02:01:18 GMT"));
  CHECK(parseHttpDateAnyCase("Tue, 19 Jan 2038 14:14:08 GMT") == 2147523248);
  CHECK_FALSE(parseHttpDate("THU, 18 AUG 2050 02:01:18 gMT"));  // the strict reading
}

TEST_CASE("a cache refuses what is not an HTTP-date, in any case") {
  using http::parseHttpDateAnyCase;
  // The shapes an independent cache test suite sends as invalid Expires values.
  for (const char* bad :
       {"Thu, 18 Aug 2050 02:01:18 UTC", "Thu, 18 Aug 2050 02:01:18 AEST",
        "Thu, 18 Aug 50 02:01:18 GMT", "Thu 18 Aug 2050 02:01:18 GMT",
        "Thu, 18  Aug  2050 02:01:18 GMT", "Thu, 18-Aug-2050 02:01:18 GMT",
        "Thu, 18 Aug 2050 02.01.18 GMT", "Thu, 18 Aug 2050 2:01:18 GMT", "", "0", "-1",
        "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"}) {
    INFO(bad);
    CHECK_FALSE(parseHttpDateAnyCase(bad, k2026));
  }
}
