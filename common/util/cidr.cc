#include "common/util/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace util {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buffer[64];
  if (text.empty() || text.size() >= sizeof buffer) {
    return std::nullopt;
  }
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    address.bytes[10] = 0xff;
    address.bytes[11] = 0xff;
    std::memcpy(&address.bytes[12], &v4, 4);
    address.v4 = true;
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) != 1) {
    return std::nullopt;
  }
  std::memcpy(address.bytes.data(), &v6, 16);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  address.v4 = std::memcmp(address.bytes.data(), kMapped, 12) == 0;
  return address;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    *error = "'" + std::string(text) + "' is not an IP address or network (e.g. 10.0.0.0/8)";
    return std::nullopt;
  }
  // The prefix counts in the family the text is written in: "::ffff:10.0.0.0/104" is IPv6
  // notation for 10.0.0.0/8, although the address itself is IPv4-mapped.
  bool ipv4_text = text.substr(0, slash).find(':') == std::string_view::npos;
  int max = ipv4_text ? 32 : 128;
  int length = max;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        length < 0 || length > max) {
      *error = "'" + std::string(text) + "': the prefix length must be 0.." + std::to_string(max);
      return std::nullopt;
    }
  }
  Cidr cidr;
  cidr.bits_ = ipv4_text ? 96 + length : length;
  cidr.network_ = *address;
  // Clear the host bits, so contains() compares whole bytes.
  for (int i = 0; i < 16; ++i) {
    int keep = std::min(8, std::max(0, cidr.bits_ - 8 * i));
    cidr.network_.bytes[static_cast<size_t>(i)] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  int whole = bits_ / 8;
  if (std::memcmp(address.bytes.data(), network_.bytes.data(), static_cast<size_t>(whole)) != 0) {
    return false;
  }
  int rest = bits_ % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xff00 >> rest);
  return (address.bytes[static_cast<size_t>(whole)] & mask) == network_.bytes[static_cast<size_t>(whole)];
}

}  // namespace util
