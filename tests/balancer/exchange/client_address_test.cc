#include "balancer/exchange/client_address.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "../../common/util/cidr_list.h"

using balancer::ClientAddress;
using util_test::nets;

namespace {

http::HeaderList headers(std::initializer_list<std::pair<const char*, const char*>> fields) {
  http::HeaderList list;
  for (const auto& [name, value] : fields) {
    list.appendName(name, std::strlen(name));
    list.endName();
    list.appendValue(value, std::strlen(value));
  }
  return list;
}

std::string clientOf(const char* peer, const http::HeaderList& list,
                     const std::vector<util::Cidr>& trusted, bool* peer_trusted = nullptr) {
  ClientAddress client;
  client.resolve(peer, list, trusted);
  if (peer_trusted != nullptr) {
    *peer_trusted = client.peerTrusted();
  }
  return std::string(client.ip());
}

}  // namespace

TEST_CASE("an untrusted peer is the client, whatever X-Forwarded-For says") {
  auto xff = headers({{"X-Forwarded-For", "198.51.100.9"}});
  bool trusted = true;
  CHECK(clientOf("203.0.113.5", xff, {}, &trusted) == "203.0.113.5");
  CHECK_FALSE(trusted);
  CHECK(clientOf("203.0.113.5", xff, nets({"10.0.0.0/8"}), &trusted) == "203.0.113.5");
  CHECK_FALSE(trusted);
}

TEST_CASE("a trusted peer's X-Forwarded-For is read from the right past trusted hops") {
  auto trusted = nets({"10.0.0.0/8", "2001:db8:ff::/48"});
  bool peer_trusted = false;
  auto chain = headers({{"X-Forwarded-For", "1.1.1.1, 198.51.100.9, 10.1.1.1"}});
  CHECK(clientOf("10.0.0.2", chain, trusted, &peer_trusted) == "198.51.100.9");
  CHECK(peer_trusted);
  // No X-Forwarded-For: the peer itself.
  CHECK(clientOf("10.0.0.2", headers({{"Host", "a"}}), trusted) == "10.0.0.2");
  // All trusted: the leftmost.
  CHECK(clientOf("10.0.0.2", headers({{"X-Forwarded-For", "10.9.9.9,10.1.1.1"}}), trusted) ==
        "10.9.9.9");
  // IPv6, and an IPv4-mapped spelling written as IPv4.
  CHECK(clientOf("2001:db8:ff::1", headers({{"X-Forwarded-For", "2001:DB8::7"}}), trusted) ==
        "2001:db8::7");
  CHECK(clientOf("10.0.0.2", headers({{"X-Forwarded-For", "::ffff:192.0.2.1"}}), trusted) ==
        "192.0.2.1");
}

TEST_CASE("several X-Forwarded-For fields are one list; blanks and empty elements skipped") {
  auto trusted = nets({"10.0.0.0/8"});
  auto two = headers({{"X-Forwarded-For", "192.0.2.1"},
                      {"Accept", "*/*"},
                      {"x-forwarded-for", " 10.2.2.2 ,, 10.3.3.3 "}});
  CHECK(clientOf("10.0.0.2", two, trusted) == "192.0.2.1");
}

TEST_CASE("an entry that is not an address ends the walk at the last good one") {
  auto trusted = nets({"10.0.0.0/8"});
  CHECK(clientOf("10.0.0.2", headers({{"X-Forwarded-For", "192.0.2.1, unknown, 10.4.4.4"}}),
                 trusted) == "10.4.4.4");
  CHECK(clientOf("10.0.0.2", headers({{"X-Forwarded-For", "192.0.2.1:5555"}}), trusted) ==
        "10.0.0.2");
  CHECK(clientOf("10.0.0.2", headers({{"X-Forwarded-For", "<script>"}}), trusted) ==
        "10.0.0.2");
}

TEST_CASE("resolved again, a client address starts over from the new peer") {
  auto trusted = nets({"10.0.0.0/8"});
  auto xff = headers({{"X-Forwarded-For", "2001:db8::7"}});
  ClientAddress client;
  client.resolve("10.0.0.2", xff, trusted);
  CHECK(client.ip() == "2001:db8::7");
  CHECK(client.peerTrusted());
  client.resolve("203.0.113.5", xff, trusted);
  CHECK(client.ip() == "203.0.113.5");
  CHECK_FALSE(client.peerTrusted());
  client.resolve("10.0.0.3", xff, {});
  CHECK(client.ip() == "10.0.0.3");
  CHECK_FALSE(client.peerTrusted());
}
