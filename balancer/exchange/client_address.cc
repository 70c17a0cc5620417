#include "balancer/exchange/client_address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace balancer {

namespace {

bool isTrusted(const util::IpAddress& address, std::span<const util::Cidr> trusted) {
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const util::Cidr& net) { return net.contains(address); });
}

}  // namespace

void ClientAddress::set(const util::IpAddress& address) {
  // Written the one way the socket's own peer is, so that a limit counts "::FFFF:1.2.3.4"
  // and "1.2.3.4" as one client.
  const char* text = address.v4 ? inet_ntop(AF_INET, &address.bytes[12], text_, sizeof text_)
                                : inet_ntop(AF_INET6, address.bytes.data(), text_, sizeof text_);
  ip_ = text == nullptr ? std::string_view{} : std::string_view(text_);
}

void ClientAddress::readForwardedFor(const http::HeaderList& headers,
                                     std::span<const util::Cidr> trusted) {
  auto address = util::IpAddress::parse(ip_);
  if (!address || !isTrusted(*address, trusted)) {
    return;
  }
  peer_trusted_ = true;
  // Several X-Forwarded-For fields are one list, in their order (RFC 9110 5.3).
  for (size_t i = headers.size(); i-- > 0;) {
    if (headers.kind(i) != http::HeaderKind::kXForwardedFor) {
      continue;
    }
    std::string_view list = headers.value(i);
    while (!list.empty()) {
      size_t comma = list.rfind(',');
      std::string_view item = http::trimOws(comma == std::string_view::npos
                                                ? list
                                                : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      if (item.empty()) {
        continue;  // "a, , b": an empty element is no hop
      }
      auto hop = util::IpAddress::parse(item);
      if (!hop) {
        return;
      }
      set(*hop);
      if (!isTrusted(*hop, trusted)) {
        return;
      }
    }
  }
}

}  // namespace balancer
