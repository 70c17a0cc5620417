#include "balancer/jwks/jwks_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/http/header_list.h"
#include "common/util/address.h"

namespace balancer::jwks {

namespace {

// The host of an authority ("user@host:port", "[::1]:80"), brackets removed.
std::string_view hostOf(std::string_view authority) {
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? std::string_view() : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool isLoopbackHost(std::string_view host) {
  if (http::equalsIgnoreCase(host, "localhost")) {
    return true;
  }
  std::string text(host);
  sockaddr_in in{};
  sockaddr_in6 in6{};
  if (inet_pton(AF_INET, text.c_str(), &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    return util::isLoopback(reinterpret_cast<const sockaddr*>(&in));
  }
  if (inet_pton(AF_INET6, text.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    return util::isLoopback(reinterpret_cast<const sockaddr*>(&in6));
  }
  return false;
}

}  // namespace

std::string checkJwksUrl(std::string_view url, bool insecure_http) {
  bool https = url.size() > 8 && http::equalsIgnoreCase(url.substr(0, 8), "https://");
  bool plain = url.size() > 7 && http::equalsIgnoreCase(url.substr(0, 7), "http://");
  if (!https && !plain) {
    return "must start with https:// (or http:// to a loopback host)";
  }
  std::string_view rest = url.substr(https ? 8 : 7);
  std::string_view host = hostOf(rest.substr(0, rest.find_first_of("/?#")));
  if (host.empty()) {
    return "has no host";
  }
  if (plain && !insecure_http && !isLoopbackHost(host)) {
    return "http:// is only allowed to a loopback host; use https:// (or jwks_insecure_http "
           "inside a trusted network)";
  }
  return "";
}

}  // namespace balancer::jwks
