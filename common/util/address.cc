#include "common/util/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

#include <cstdlib>
#include <cstring>

namespace util {

int SocketAddress::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::optional<SocketAddress> parseSocketAddress(std::string_view text, std::string* error) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "invalid address '" + std::string(text) + "' (expected [v6]:port)";
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "invalid address '" + std::string(text) + "' (expected host:port)";
      return std::nullopt;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos) {
    *error = "invalid port in address '" + std::string(text) + "'";
    return std::nullopt;
  }
  int port = std::atoi(std::string(port_text).c_str());
  if (port > 65535) {
    *error = "port out of range in address '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  SocketAddress out;
  out.text = std::string(text);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out.storage)) == 0) {
    return out;
  }
  if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out.storage)) == 0) {
    return out;
  }
  *error = "invalid IP address '" + host + "'";
  return std::nullopt;
}

std::optional<HostPort> parseDnsHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 254) {
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int port = std::atoi(std::string(port_text).c_str());
  if (port < 1 || port > 65535 || host == "localhost") {
    return std::nullopt;
  }
  // RFC 1123 labels: letters, digits and '-', 1-63 long, no '-' at either end; a trailing dot
  // is allowed. A name needs a letter somewhere, so "300.1.1.1" stays a bad IP.
  std::string_view name = host.back() == '.' ? host.substr(0, host.size() - 1) : host;
  bool letter = false;
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') {
        return std::nullopt;
      }
      label = 0;
      continue;
    }
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(c >= '0' && c <= '9') && c != '-') {
      return std::nullopt;
    }
    letter = letter || alpha;
    ++label;
  }
  if (!letter) {
    return std::nullopt;
  }
  return HostPort{std::string(host), port};
}

size_t formatIp(const sockaddr* addr, char* out, size_t size) {
  if (addr->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(addr), out, size);
  } else if (addr->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(addr), out, size);
  } else {
    snprintf(out, size, "unknown");
  }
  return strlen(out);
}

std::string formatAddress(const sockaddr* addr) {
  char ip[64];
  formatIp(addr, ip, sizeof ip);
  int port = 0;
  if (addr->sa_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  port = ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  std::string out = "[";
  out.append(ip).append("]:").append(std::to_string(port));
  return out;
}

bool isLoopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
      return true;
    }
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace util
