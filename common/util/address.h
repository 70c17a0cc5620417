#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace util {

// An IP address and port: "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80", "localhost:80".
struct SocketAddress {
  sockaddr_storage storage{};
  std::string text;  // as written, for logs and the admin API

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
};

// 127.0.0.0/8 or ::1 (or ::ffff:127.x.x.x): reachable from this machine only.
bool isLoopback(const sockaddr* address);

// Parses "host:port". Returns nullopt and sets *error on a bad address.
std::optional<SocketAddress> parseSocketAddress(std::string_view text, std::string* error);

// "name:port" where name is a DNS host name (not an IP literal, not "localhost"): the parts,
// for addresses looked up at run time. nullopt for anything else.
struct HostPort {
  std::string host;
  int port = 0;
};
std::optional<HostPort> parseDnsHostPort(std::string_view text);

// Formats the address of a connected or bound socket, e.g. "127.0.0.1:5000".
std::string formatAddress(const sockaddr* addr);
// Writes only the IP (no port) into out; returns its length.
size_t formatIp(const sockaddr* addr, char* out, size_t size);

}  // namespace util
