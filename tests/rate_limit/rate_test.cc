#include <catch2/catch.hpp>

#include "balancer/rate_limit/rate.h"

using balancer::rate_limit::parseRate;

TEST_CASE("rates take a count per second, minute or hour") {
  std::string error;
  CHECK(parseRate("100/s", &error) == Approx(100));
  CHECK(parseRate("6000/m", &error) == Approx(100));
  CHECK(parseRate("10/h", &error) == Approx(10.0 / 3600));
  CHECK(parseRate("0.5/s", &error) == Approx(0.5));
  CHECK(error.empty());
}

TEST_CASE("bad rates are refused with a reason") {
  std::string error;
  CHECK_FALSE(parseRate("100", &error));
  CHECK(error.find("expected e.g. 100/s") != std::string::npos);
  CHECK_FALSE(parseRate("100/d", &error));
  CHECK(error.find("unit after '/' must be s, m or h") != std::string::npos);
  CHECK_FALSE(parseRate("100/", &error));
  CHECK_FALSE(parseRate("/s", &error));
  CHECK(error.find("must be a number") != std::string::npos);
  CHECK_FALSE(parseRate("0/s", &error));
  CHECK(error.find("above zero") != std::string::npos);
  CHECK_FALSE(parseRate("-1/s", &error));
  CHECK_FALSE(parseRate("1e3/s", &error));
  CHECK_FALSE(parseRate("1.2.3/s", &error));
  CHECK_FALSE(parseRate(" 5/s", &error));
  CHECK_FALSE(parseRate("inf/s", &error));
  CHECK_FALSE(parseRate("", &error));
}
