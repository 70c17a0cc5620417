#include "balancer/downstream/proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace balancer {

namespace {

using Status = ProxyHeader::Status;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// v2's address blocks (after the 16-byte fixed part): source, destination, then ports.
constexpr size_t kInet4Block = 4 + 4 + 2 + 2;
constexpr size_t kInet6Block = 16 + 16 + 2 + 2;
constexpr size_t kUnixBlock = 108 + 108;

ProxyHeader invalid(const char* why) {
  ProxyHeader header;
  header.status = Status::kInvalid;
  header.error = why;
  return header;
}

ProxyHeader needMore() { return {}; }

ProxyHeader done(size_t length) {
  ProxyHeader header;
  header.status = Status::kDone;
  header.length = length;
  return header;
}

bool startsLike(std::string_view bytes, std::string_view prefix) {
  size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

// The next space-separated token of `line`, which then starts after it (and its one space).
std::string_view nextToken(std::string_view* line) {
  size_t space = line->find(' ');
  std::string_view token = line->substr(0, space);
  *line = space == std::string_view::npos ? std::string_view{} : line->substr(space + 1);
  return token;
}

// A v1 port: decimal 0..65535, no sign, no leading zero (the spec's form, as haproxy checks).
bool parsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return false;
  }
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
}

// A v1 address of `family` (inet_pton: dotted quad only for IPv4, no names).
bool parseAddress(std::string_view text, int family, void* out) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) {
    return false;
  }
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  return inet_pton(family, buffer, out) == 1;
}

// "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...", or "PROXY UNKNOWN...\r\n".
ProxyHeader parseV1(std::string_view bytes) {
  size_t end = bytes.substr(0, kProxyV1MaxLength).find('\n');
  if (end == std::string_view::npos) {
    return bytes.size() >= kProxyV1MaxLength ? invalid("v1: no end of line in 107 bytes")
                                             : needMore();
  }
  if (end == 0 || bytes[end - 1] != '\r') {
    return invalid("v1: the line does not end in CRLF");
  }
  std::string_view line = bytes.substr(kV1Prefix.size(), end - 1 - kV1Prefix.size());
  std::string_view protocol = nextToken(&line);
  if (protocol == "UNKNOWN") {
    return done(end + 1);  // the rest of the line is to be ignored
  }
  int family = 0;
  if (protocol == "TCP4") {
    family = AF_INET;
  } else if (protocol == "TCP6") {
    family = AF_INET6;
  } else {
    return invalid("v1: the protocol is not TCP4, TCP6 or UNKNOWN");
  }
  std::string_view source = nextToken(&line);
  std::string_view destination = nextToken(&line);
  std::string_view source_port = nextToken(&line);
  std::string_view destination_port = line;  // the last: it may hold no space
  in6_addr source_address{};
  in6_addr destination_address{};
  if (!parseAddress(source, family, &source_address) ||
      !parseAddress(destination, family, &destination_address)) {
    return invalid("v1: an address is not one of the protocol's family");
  }
  uint16_t port = 0;
  uint16_t unused = 0;
  if (!parsePort(source_port, &port) || !parsePort(destination_port, &unused)) {
    return invalid("v1: a port is not a number 0..65535");
  }
  ProxyHeader header = done(end + 1);
  sockaddr_storage& out = header.source.emplace();
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, &source_address, sizeof in->sin_addr);
    in->sin_port = htons(port);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = source_address;
    in6->sin6_port = htons(port);
  }
  return header;
}

uint16_t readBigEndian16(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(bytes[at]) << 8) |
                               static_cast<uint8_t>(bytes[at + 1]));
}

// The 12-byte signature, version and command, family and protocol, the length, then the
// address block and TLVs (skipped).
ProxyHeader parseV2(std::string_view bytes) {
  if (bytes.size() < kProxyV2FixedLength) {
    return needMore();
  }
  auto version_command = static_cast<uint8_t>(bytes[12]);
  auto family_protocol = static_cast<uint8_t>(bytes[13]);
  size_t payload = readBigEndian16(bytes, 14);
  if ((version_command >> 4) != 2) {
    return invalid("v2: the version is not 2");
  }
  int command = version_command & 0x0f;
  if (command > 1) {
    return invalid("v2: the command is neither LOCAL nor PROXY");
  }
  if (payload > kProxyV2MaxPayload) {
    return invalid("v2: the header is longer than we accept");
  }
  int family = family_protocol >> 4;
  int protocol = family_protocol & 0x0f;
  if (family > 3 || protocol > 2) {
    return invalid("v2: unknown address family or protocol");
  }
  size_t block = family == 1 ? kInet4Block : family == 2 ? kInet6Block : family == 3 ? kUnixBlock : 0;
  if (command == 1 && payload < block) {
    return invalid("v2: the length is shorter than the addresses");
  }
  if (bytes.size() < kProxyV2FixedLength + payload) {
    return needMore();
  }
  ProxyHeader header = done(kProxyV2FixedLength + payload);
  // LOCAL: the relay's own connection (a health check); UDP, unix, UNSPEC: no TCP client.
  if (command == 0 || protocol != 1 || (family != 1 && family != 2)) {
    return header;
  }
  const char* addresses = bytes.data() + kProxyV2FixedLength;
  sockaddr_storage& out = header.source.emplace();
  std::memset(&out, 0, sizeof out);
  if (family == 1) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, addresses, 4);
    std::memcpy(&in->sin_port, addresses + 8, 2);  // both in network order
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, addresses, 16);
    std::memcpy(&in6->sin6_port, addresses + 32, 2);
  }
  return header;
}

}  // namespace

ProxyHeader parseProxyHeader(std::string_view bytes) {
  if (bytes.empty()) {
    return needMore();
  }
  if (startsLike(bytes, kV1Prefix)) {
    return bytes.size() < kV1Prefix.size() ? needMore() : parseV1(bytes);
  }
  if (startsLike(bytes, kV2Signature)) {
    return bytes.size() < kV2Signature.size() ? needMore() : parseV2(bytes);
  }
  return invalid("no PROXY protocol signature");
}

}  // namespace balancer
