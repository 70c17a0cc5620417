// Backends named by host: which addresses count as names, how the configuration reads them,
// and what a lookup's result does to a name's backends. The lookups themselves run against
// getaddrinfo in tests/integration/test_dns_discovery.py.
#include <uv.h>

#include <catch2/catch.hpp>

#include "balancer/config.h"
#include "balancer/discovery/dns_discovery.h"
#include "common/util/address.h"

using balancer::DnsDiscovery;
using balancer::loadConfigString;

TEST_CASE("a DNS host name with a port is a name to look up; IPs and localhost are not") {
  auto name = util::parseDnsHostPort("product.shop.svc.cluster.local:7101");
  REQUIRE(name);
  CHECK(name->host == "product.shop.svc.cluster.local");
  CHECK(name->port == 7101);
  CHECK(util::parseDnsHostPort("redis-0.redis:6379"));
  CHECK(util::parseDnsHostPort("fqdn.example.:80"));  // trailing dot: absolute name
  CHECK(util::parseDnsHostPort("123abc.example:80"));

  CHECK_FALSE(util::parseDnsHostPort("127.0.0.1:80"));
  CHECK_FALSE(util::parseDnsHostPort("300.1.1.1:80"));  // a bad IP, not a name
  CHECK_FALSE(util::parseDnsHostPort("[::1]:80"));
  CHECK_FALSE(util::parseDnsHostPort("localhost:80"));  // a fixed address, as before
  CHECK_FALSE(util::parseDnsHostPort("product:0"));
  CHECK_FALSE(util::parseDnsHostPort("product:65536"));
  CHECK_FALSE(util::parseDnsHostPort("product"));
  CHECK_FALSE(util::parseDnsHostPort("-product:80"));
  CHECK_FALSE(util::parseDnsHostPort("product-.svc:80"));
  CHECK_FALSE(util::parseDnsHostPort("a..b:80"));
  CHECK_FALSE(util::parseDnsHostPort("bad_name.test:80"));
  CHECK_FALSE(util::parseDnsHostPort(std::string(64, 'a') + ".test:80"));  // label > 63
}

TEST_CASE("an upstream mixes fixed and named backends; dns_refresh is read and checked") {
  auto result = loadConfigString(R"(listeners:
  - { name: public, address: 127.0.0.1:8080 }
upstreams:
  products:
    backends:
      - { address: 127.0.0.1:7101 }
      - { address: product.shop.svc.cluster.local:7101, weight: 3 }
    dns_refresh: 2s
routes:
  - match: { path_prefix: / }
    upstream: products
)");
  REQUIRE(result.config);
  const auto& u = result.config->upstreams.at(0);
  REQUIRE(u.backends.size() == 1);
  CHECK(u.backends[0].address.text == "127.0.0.1:7101");
  REQUIRE(u.dns_backends.size() == 1);
  CHECK(u.dns_backends[0].host == "product.shop.svc.cluster.local");
  CHECK(u.dns_backends[0].port == 7101);
  CHECK(u.dns_backends[0].weight == 3);
  CHECK(u.dns_backends[0].text == "product.shop.svc.cluster.local:7101");
  CHECK(u.dns_refresh.count() == 2000);

  auto bad = loadConfigString(R"(listeners:
  - { name: public, address: 127.0.0.1:8080 }
upstreams:
  products:
    backends:
      - { address: bad_name.test:7101 }
      - { address: product.svc:7101 }
      - { address: product.svc:7101 }
    dns_refresh: 10ms
routes:
  - match: { path_prefix: / }
    upstream: products
)");
  CHECK_FALSE(bad.config);
  bool bad_address = false;
  bool duplicate = false;
  bool refresh = false;
  for (const auto& e : bad.errors) {
    bad_address = bad_address || (e.line == 6 && e.message.find("bad_name") != std::string::npos);
    duplicate = duplicate || (e.line == 8 && e.message.find("duplicate") != std::string::npos);
    refresh = refresh || (e.line == 9 && e.message.find("dns_refresh") != std::string::npos);
  }
  CHECK(bad_address);
  CHECK(duplicate);
  CHECK(refresh);
}

TEST_CASE("a lookup that fails keeps the backends; only a name that is gone empties them") {
  CHECK(DnsDiscovery::outcomeOf(0) == DnsDiscovery::Outcome::kFound);
  CHECK(DnsDiscovery::outcomeOf(UV_EAI_NONAME) == DnsDiscovery::Outcome::kNoSuchName);
  CHECK(DnsDiscovery::outcomeOf(UV_EAI_NODATA) == DnsDiscovery::Outcome::kNoSuchName);
  CHECK(DnsDiscovery::outcomeOf(UV_EAI_AGAIN) == DnsDiscovery::Outcome::kFailed);
  CHECK(DnsDiscovery::outcomeOf(UV_EAI_FAIL) == DnsDiscovery::Outcome::kFailed);
  CHECK(DnsDiscovery::outcomeOf(UV_ECANCELED) == DnsDiscovery::Outcome::kFailed);
}
