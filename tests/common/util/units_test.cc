#include <catch2/catch.hpp>

#include "common/util/units.h"

using util::Millis;

TEST_CASE("durations take ms, s, m and h") {
  std::string error;
  CHECK(util::parseDuration("250ms", &error) == Millis(250));
  CHECK(util::parseDuration("2s", &error) == Millis(2000));
  CHECK(util::parseDuration("1.5s", &error) == Millis(1500));
  CHECK(util::parseDuration("5m", &error) == Millis(300000));
  CHECK(util::parseDuration("1h", &error) == Millis(3600000));
  CHECK(util::parseDuration("0s", &error) == Millis(0));
}

TEST_CASE("durations without a unit or with a bad one are refused with a reason") {
  std::string error;
  CHECK_FALSE(util::parseDuration("10", &error));
  CHECK(error.find("needs a unit") != std::string::npos);
  CHECK_FALSE(util::parseDuration("10d", &error));
  CHECK(error.find("unknown duration unit") != std::string::npos);
  CHECK_FALSE(util::parseDuration("fast", &error));
  CHECK_FALSE(util::parseDuration("", &error));
  CHECK_FALSE(util::parseDuration("-1s", &error));
}

TEST_CASE("sizes are bytes or binary multiples") {
  std::string error;
  CHECK(util::parseSize("4096", &error) == 4096u);
  CHECK(util::parseSize("64k", &error) == 65536u);
  CHECK(util::parseSize("64KiB", &error) == 65536u);
  CHECK(util::parseSize("10MiB", &error) == 10u * 1024 * 1024);
  CHECK(util::parseSize("1g", &error) == 1024u * 1024 * 1024);
  CHECK_FALSE(util::parseSize("10 parsecs", &error));
  CHECK_FALSE(util::parseSize("lots", &error));
}
