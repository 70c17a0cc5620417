#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace util {

// An IP address as 16 bytes: IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one
// comparison serves both families and a client seen as ::ffff:10.0.0.1 matches 10.0.0.0/8.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;

  static std::optional<IpAddress> parse(std::string_view text);
};

// A network: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7" is /32, "::1" /128).
class Cidr {
 public:
  // Returns nullopt and sets *error on a bad network (bits past the prefix length set are
  // accepted and ignored, as iptables and nginx do, but said in the error's place: no).
  static std::optional<Cidr> parse(std::string_view text, std::string* error);
  bool contains(const IpAddress& address) const;
  // The prefix length in the 128-bit space (an IPv4 /8 is 104).
  int prefixBits() const { return bits_; }

 private:
  IpAddress network_;
  int bits_ = 0;
};

}  // namespace util
