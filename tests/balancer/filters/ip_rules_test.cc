#include "balancer/filters/ip_rules.h"

#include <catch2/catch.hpp>

#include "filter_fixture.h"

using balancer::filters::IpRules;
using balancer::filters::Verdict;
using namespace filters_test;

namespace {

std::vector<util::Cidr> nets(std::initializer_list<const char*> texts) {
  std::vector<util::Cidr> out;
  for (const char* t : texts) {
    std::string why;
    auto cidr = util::Cidr::parse(t, &why);
    REQUIRE(cidr);
    out.push_back(*cidr);
  }
  return out;
}

int statusFor(IpRules& rules, std::string_view client) {
  FilterFixture f;
  auto& ctx = f.request("/");
  ctx.request.client_ip = client;
  Verdict v = rules.onRequestHead(ctx);
  return v.goesOn() ? 0 : v.status;
}

}  // namespace

TEST_CASE("ip_rules: deny before allow, IPv4 seen through IPv6, 403 with the reason",
          "[filters]") {
  IpRules rules(nets({"10.0.0.0/8", "2001:db8::/32"}), nets({"10.9.0.0/16", "2001:db8:bad::/48"}));
  CHECK(statusFor(rules, "10.1.2.3") == 0);
  CHECK(statusFor(rules, "::ffff:10.1.2.3") == 0);  // a dual-stack socket's view of it
  CHECK(statusFor(rules, "10.9.1.1") == 403);        // denied inside the allowed /8
  CHECK(statusFor(rules, "11.0.0.1") == 403);        // not allowed
  CHECK(statusFor(rules, "2001:db8:1::5") == 0);
  CHECK(statusFor(rules, "2001:db8:bad::5") == 403);
  CHECK(statusFor(rules, "2001:db9::1") == 403);
  CHECK(statusFor(rules, "not-an-address") == 403);

  IpRules deny_only({}, nets({"192.0.2.7"}));
  CHECK(statusFor(deny_only, "192.0.2.7") == 403);
  CHECK(statusFor(deny_only, "192.0.2.8") == 0);
  CHECK(statusFor(deny_only, "::1") == 0);
}

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
