#include "common/util/cidr.h"

#include <catch2/catch.hpp>

TEST_CASE("cidr: prefixes of both families, host bits ignored, bad text refused", "[util]") {
  std::string why;
  auto net = util::Cidr::parse("172.16.5.9/12", &why);
  REQUIRE(net);
  CHECK(net->contains(*util::IpAddress::parse("172.31.255.255")));
  CHECK_FALSE(net->contains(*util::IpAddress::parse("172.32.0.0")));
  CHECK_FALSE(net->contains(*util::IpAddress::parse("::ffff:ac20:0")));
  auto all4 = util::Cidr::parse("0.0.0.0/0", &why);
  REQUIRE(all4);
  CHECK(all4->contains(*util::IpAddress::parse("8.8.8.8")));
  CHECK_FALSE(all4->contains(*util::IpAddress::parse("2001:db8::1")));  // IPv4 only
  auto v6 = util::Cidr::parse("2001:db8:abcd:12::/63", &why);
  REQUIRE(v6);
  CHECK(v6->contains(*util::IpAddress::parse("2001:db8:abcd:13::1")));
  CHECK_FALSE(v6->contains(*util::IpAddress::parse("2001:db8:abcd:14::1")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::1/129", "x", "10.0.0.0/8x",
                          ""}) {
    INFO(bad);
    CHECK_FALSE(util::Cidr::parse(bad, &why));
  }
}

TEST_CASE("cidr: an IPv4-mapped network written in IPv6 counts its prefix in 128 bits",
          "[util]") {
  std::string why;
  auto mapped = util::Cidr::parse("::ffff:10.0.0.0/104", &why);
  REQUIRE(mapped);
  CHECK(mapped->contains(*util::IpAddress::parse("10.200.0.1")));
  CHECK(mapped->contains(*util::IpAddress::parse("::ffff:10.1.1.1")));
  CHECK_FALSE(mapped->contains(*util::IpAddress::parse("11.0.0.1")));
  CHECK(mapped->prefixBits() == 104);
  // Before, the text was taken for IPv4 and "/104" refused, while "/8" meant ::ffff:0:0/... .
  auto mapped8 = util::Cidr::parse("::ffff:10.0.0.0/8", &why);
  REQUIRE(mapped8);
  CHECK(mapped8->prefixBits() == 8);
  CHECK_FALSE(util::Cidr::parse("::ffff:10.0.0.0/129", &why));
  CHECK(util::Cidr::parse("10.0.0.0/8", &why)->prefixBits() == 104);
}
