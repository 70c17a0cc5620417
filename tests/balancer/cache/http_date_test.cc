#include "balancer/cache/http_date.h"

#include <catch2/catch.hpp>

using balancer::cache::formatHttpDate;
using balancer::cache::parseHttpDate;

TEST_CASE("an HTTP-date is read in its three forms", "[cache]") {
  constexpr int64_t kExpected = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == kExpected);
  CHECK(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == kExpected);
  CHECK(parseHttpDate("Sun Nov  6 08:49:37 1994") == kExpected);
  CHECK(parseHttpDate(" Sun, 06 Nov 1994 08:49:37 GMT ") == kExpected);
}

TEST_CASE("month names and GMT are read in any case; two-digit years near now", "[cache]") {
  CHECK(parseHttpDate("THU, 18 AUG 2050 02:01:18 gMT") ==
        parseHttpDate("Thu, 18 Aug 2050 02:01:18 GMT"));
  CHECK(parseHttpDate("Thursday, 18-Aug-50 02:01:18 GMT") ==
        parseHttpDate("Thu, 18 Aug 2050 02:01:18 GMT"));
  CHECK(parseHttpDate("Tue, 19 Jan 2038 14:14:08 GMT") == 2147523248);
}

TEST_CASE("a value that is not an HTTP-date is refused", "[cache]") {
  // The shapes an independent cache test suite sends as invalid Expires values.
  for (const char* bad :
       {"Thu, 18 Aug 2050 02:01:18 UTC", "Thu, 18 Aug 2050 02:01:18 AEST",
        "Thu, 18 Aug 50 02:01:18 GMT", "Thu 18 Aug 2050 02:01:18 GMT",
        "Thu, 18  Aug  2050 02:01:18 GMT", "Thu, 18-Aug-2050 02:01:18 GMT",
        "Thu, 18 Aug 2050 02.01.18 GMT", "Thu, 18 Aug 2050 2:01:18 GMT"}) {
    INFO(bad);
    CHECK_FALSE(parseHttpDate(bad));
  }
  CHECK_FALSE(parseHttpDate(""));
  CHECK_FALSE(parseHttpDate("0"));
  CHECK_FALSE(parseHttpDate("-1"));
  CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37"));
  CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37 PST"));
  CHECK_FALSE(parseHttpDate("Sun, 06 Xyz 1994 08:49:37 GMT"));
  CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 25:49:37 GMT"));
  CHECK_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"));
}

TEST_CASE("an IMF-fixdate is written as it is read", "[cache]") {
  CHECK(formatHttpDate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(formatHttpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(parseHttpDate(formatHttpDate(1764892800)) == 1764892800);
}
