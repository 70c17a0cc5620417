#include "balancer/downstream/proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <string>

#include "common/util/address.h"

using balancer::kProxyV1MaxLength;
using balancer::kProxyV2MaxPayload;
using balancer::parseProxyHeader;
using balancer::ProxyHeader;
using Status = ProxyHeader::Status;

namespace {

const std::string kSignature{"\r\n\r\n\0\r\nQUIT\n", 12};

// A v2 header: command (0 LOCAL, 1 PROXY), family and protocol byte, then `payload`.
std::string v2(uint8_t command, uint8_t family_protocol, const std::string& payload) {
  std::string h = kSignature;
  h.push_back(static_cast<char>(0x20 | command));
  h.push_back(static_cast<char>(family_protocol));
  h.push_back(static_cast<char>(payload.size() >> 8));
  h.push_back(static_cast<char>(payload.size() & 0xff));
  return h + payload;
}

std::string inet4Block() {  // 192.0.2.7:51000 -> 10.0.0.1:443
  return std::string("\xc0\x00\x02\x07\x0a\x00\x00\x01\xc7\x38\x01\xbb", 12);
}

std::string inet6Block() {  // 2001:db8::5:40000 -> ::1:80
  std::string b(36, '\0');
  b[0] = '\x20';
  b[1] = '\x01';
  b[2] = '\x0d';
  b[3] = '\xb8';
  b[15] = '\x05';
  b[31] = '\x01';
  b[32] = '\x9c';
  b[33] = '\x40';
  b[35] = '\x50';
  return b;
}

std::string sourceIp(const ProxyHeader& h) {
  REQUIRE(h.source);
  return util::formatAddress(reinterpret_cast<const sockaddr*>(&*h.source));
}

Status statusOf(const std::string& bytes) { return parseProxyHeader(bytes).status; }

}  // namespace

TEST_CASE("PROXY v1 TCP4 and TCP6 give the source address; what follows is left") {
  std::string line = "PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\r\n";
  ProxyHeader h = parseProxyHeader(line + "GET / HTTP/1.1\r\n");
  REQUIRE(h.status == Status::kDone);
  CHECK(h.length == line.size());
  CHECK(sourceIp(h) == "192.0.2.7:51000");

  h = parseProxyHeader("PROXY TCP6 2001:db8::5 ::1 40000 80\r\n");
  REQUIRE(h.status == Status::kDone);
  CHECK(sourceIp(h) == "[2001:db8::5]:40000");
}

TEST_CASE("PROXY v1 UNKNOWN keeps the peer's address") {
  ProxyHeader h = parseProxyHeader("PROXY UNKNOWN\r\n");
  CHECK(h.status == Status::kDone);
  CHECK(h.length == 15);
  CHECK_FALSE(h.source);
  h = parseProxyHeader("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nX");
  CHECK(h.status == Status::kDone);
  CHECK_FALSE(h.source);
}

TEST_CASE("PROXY v1 asks for more until the line ends, and no further than 107 bytes") {
  std::string line = "PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\r\n";
  for (size_t n = 0; n < line.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK(statusOf(line.substr(0, n)) == Status::kNeedMore);
  }
  std::string longest = "PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 16, 'x') + "\r\n";
  REQUIRE(longest.size() == kProxyV1MaxLength);
  CHECK(statusOf(longest) == Status::kDone);
  std::string too_long = "PROXY UNKNOWN " + std::string(kProxyV1MaxLength - 15, 'x') + "\r\n";
  CHECK(statusOf(too_long) == Status::kInvalid);
  CHECK(statusOf(too_long.substr(0, kProxyV1MaxLength)) == Status::kInvalid);
}

TEST_CASE("PROXY v1 malformed lines are refused") {
  const char* bad[] = {
      "PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\n",        // no CR
      "PROXY TCP4 192.0.2.7 10.0.0.1 51000 443 \r\n",     // trailing space
      "PROXY TCP4 192.0.2.7  10.0.0.1 51000 443\r\n",     // two spaces
      "PROXY TCP4 192.0.2.7 10.0.0.1 51000\r\n",          // a port missing
      "PROXY TCP4 192.0.2.7 10.0.0.1 51000 443 1\r\n",    // a field too many
      "PROXY TCP4 192.0.2.7 10.0.0.1 65536 443\r\n",      // port out of range
      "PROXY TCP4 192.0.2.7 10.0.0.1 -1 443\r\n",         // sign
      "PROXY TCP4 192.0.2.7 10.0.0.1 0443 443\r\n",       // leading zero
      "PROXY TCP4 192.0.2.7 10.0.0.1 5x 443\r\n",         // not a number
      "PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n",          // not an address
      "PROXY TCP4 example.com 10.0.0.1 1 2\r\n",          // a name
      "PROXY TCP4 2001:db8::5 ::1 1 2\r\n",               // IPv6 said to be TCP4
      "PROXY TCP6 192.0.2.7 10.0.0.1 1 2\r\n",            // IPv4 said to be TCP6
      "PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n",            // no such protocol
      "PROXY \r\n",                                       // nothing
      "PROXY TCP4\r\n",                                   // no addresses
      "PROXYTCP4 192.0.2.7 10.0.0.1 1 2\r\n",             // no space after PROXY
      "proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n",            // case matters
  };
  for (const char* line : bad) {
    INFO(line);
    CHECK(statusOf(line) == Status::kInvalid);
  }
}

TEST_CASE("without a PROXY signature the connection is refused at the first byte") {
  CHECK(statusOf("GET / HTTP/1.1\r\n\r\n") == Status::kInvalid);
  CHECK(statusOf("G") == Status::kInvalid);
  CHECK(statusOf(std::string("\x16\x03\x01", 3)) == Status::kInvalid);  // a TLS hello
  CHECK(statusOf(std::string("\r\n\r\n\0X", 6)) == Status::kInvalid);  // a wrong v2 signature
  CHECK(statusOf(std::string("\r\n\r\n\0\r\nQUIX\n", 12)) == Status::kInvalid);
  CHECK(statusOf("") == Status::kNeedMore);
}

TEST_CASE("PROXY v2 TCP over IPv4 and IPv6 gives the source; TLVs are skipped") {
  std::string tlv("\x04\x00\x02zz", 5);  // PP2_TYPE_NOOP with 2 bytes
  std::string header = v2(1, 0x11, inet4Block() + tlv);
  ProxyHeader h = parseProxyHeader(header + "\x16\x03\x01");
  REQUIRE(h.status == Status::kDone);
  CHECK(h.length == header.size());
  CHECK(sourceIp(h) == "192.0.2.7:51000");

  h = parseProxyHeader(v2(1, 0x21, inet6Block()));
  REQUIRE(h.status == Status::kDone);
  CHECK(sourceIp(h) == "[2001:db8::5]:40000");
}

TEST_CASE("PROXY v2 LOCAL, UNSPEC, UDP and unix keep the peer's address") {
  struct Case {
    const char* name;
    std::string header;
  } cases[] = {
      {"LOCAL (a health check)", v2(0, 0x00, "")},
      {"LOCAL with addresses", v2(0, 0x11, inet4Block())},
      {"PROXY UNSPEC", v2(1, 0x00, "")},
      {"PROXY UDP4", v2(1, 0x12, inet4Block())},
      {"PROXY UDP6", v2(1, 0x22, inet6Block())},
      {"PROXY unix stream", v2(1, 0x31, std::string(216, '\0'))},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    ProxyHeader h = parseProxyHeader(c.header);
    CHECK(h.status == Status::kDone);
    CHECK(h.length == c.header.size());
    CHECK_FALSE(h.source);
  }
}

TEST_CASE("PROXY v2 asks for more until the length it gives has arrived") {
  std::string header = v2(1, 0x11, inet4Block());
  for (size_t n = 0; n < header.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK(statusOf(header.substr(0, n)) == Status::kNeedMore);
  }
  CHECK(statusOf(header) == Status::kDone);
}

TEST_CASE("PROXY v2 malformed headers are refused") {
  std::string version1 = v2(1, 0x11, inet4Block());
  version1[12] = '\x11';
  CHECK(statusOf(version1) == Status::kInvalid);
  std::string command2 = v2(1, 0x11, inet4Block());
  command2[12] = '\x22';
  CHECK(statusOf(command2) == Status::kInvalid);
  CHECK(statusOf(v2(1, 0x41, inet4Block())) == Status::kInvalid);  // family 4
  CHECK(statusOf(v2(1, 0x13, inet4Block())) == Status::kInvalid);  // protocol 3
  // Shorter than the family's addresses.
  CHECK(statusOf(v2(1, 0x11, inet4Block().substr(0, 11))) == Status::kInvalid);
  CHECK(statusOf(v2(1, 0x21, inet4Block())) == Status::kInvalid);
  CHECK(statusOf(v2(1, 0x31, std::string(100, '\0'))) == Status::kInvalid);
  // Longer than we buffer: refused from the fixed part alone, before the rest is read.
  std::string huge = v2(1, 0x11, std::string(kProxyV2MaxPayload + 1, '\0'));
  CHECK(statusOf(huge.substr(0, 16)) == Status::kInvalid);
  CHECK(statusOf(v2(1, 0x11, std::string(kProxyV2MaxPayload, '\0'))) == Status::kDone);
}
