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

TEST_CASE("a value that is not an HTTP-date is refused", "[cache]") {
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
