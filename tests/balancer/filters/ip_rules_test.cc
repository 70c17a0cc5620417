#include "balancer/filters/ip_rules.h"

#include <catch2/catch.hpp>

#include "../../common/util/cidr_list.h"
#include "filter_fixture.h"

using balancer::filters::IpRules;
using balancer::filters::Verdict;
using namespace filters_test;
using util_test::nets;

namespace {

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
