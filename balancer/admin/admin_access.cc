#include "balancer/admin/admin_access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "common/http/header_list.h"

namespace balancer {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host part of "host", "host:port", "[v6]" or "[v6]:port"; empty when malformed.
bool isPort(std::string_view text) {  // RFC 3986: port = *DIGIT, so "host:" is allowed
  return text.size() <= 5 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The host of a Host field's authority, or "" when the field is not one (RFC 9110 7.2:
// host [ ":" port ]); anything after the host other than a port makes it no Host at all.
std::string_view hostOf(std::string_view authority) {
  std::string_view host;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return {};
    }
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (!rest.empty() && (rest.front() != ':' || !isPort(rest.substr(1)))) {
    return {};  // "[::1]junk", "127.0.0.1:80:80", a bare IPv6 literal
  }
  return host;
}

bool loopbackName(const std::string& host) {
  if (host == "localhost" || (host.size() > 10 && host.ends_with(".localhost"))) {
    return true;  // RFC 6761: browsers resolve these to loopback themselves
  }
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

http::Response refuse(int status, std::string_view why) {
  std::string body = R"({"error":")";
  body.append(why).append("\"}");
  return http::Response::json(status, std::move(body));
}

bool isWrite(llhttp_method_t method) { return method != HTTP_GET && method != HTTP_HEAD; }

bool equalSecret(std::string_view given, const std::string& secret) {
  // In constant time, so a secret cannot be guessed a byte at a time from response times.
  return given.size() == secret.size() &&
         CRYPTO_memcmp(given.data(), secret.data(), secret.size()) == 0;
}

}  // namespace

AdminAccess::AdminAccess(std::string token, std::vector<std::string> allowed_hosts)
    : token_(std::move(token)) {
  for (const std::string& host : allowed_hosts) {
    allowed_hosts_.push_back(lower(host));
  }
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    for (unsigned char& b : bytes) {
      b = static_cast<unsigned char>(std::rand());  // no entropy source: still per process
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : bytes) {
    csrf_token_.push_back(kHex[b >> 4]);
    csrf_token_.push_back(kHex[b & 0xF]);
  }
}

bool AdminAccess::authorized(const http::Request& request) const {
  if (token_.empty()) {
    return true;
  }
  std::string_view header = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  return header.substr(0, kBearer.size()) == kBearer &&
         equalSecret(header.substr(kBearer.size()), token_);
}

bool AdminAccess::hostAllowed(std::string_view authority) const {
  std::string host = lower(hostOf(http::trimOws(authority)));
  if (host.empty()) {
    return false;
  }
  return loopbackName(host) ||
         std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host) != allowed_hosts_.end();
}

http::Response AdminAccess::check(const http::Request& request) const {
  bool has_host = false;
  std::string_view host = request.headers->find(http::HeaderKind::kHost, &has_host);
  // A browser says where a request comes from; tools (curl, the autoscaler) do not.
  bool has_site = false;
  std::string_view site = http::trimOws(request.headers->find("sec-fetch-site", &has_site));
  bool has_origin = false;
  std::string_view origin = http::trimOws(request.headers->find("origin", &has_origin));
  if (has_site && site != "same-origin" && site != "none") {
    return refuse(403, "refused: a request from another site (Sec-Fetch-Site)");
  }
  if (has_origin) {
    // Same origin only: the scheme's "//" then exactly this request's Host.
    size_t slashes = origin.find("://");
    std::string_view authority =
        slashes == std::string_view::npos ? std::string_view() : origin.substr(slashes + 3);
    if (!has_host || authority.empty() || !http::equalsIgnoreCase(authority, http::trimOws(host)) ||
        !hostAllowed(authority)) {
      return refuse(403, "refused: a request from another origin");
    }
  }
  if (has_host && !hostAllowed(host) && !(hasToken() && authorized(request))) {
    return refuse(403, "refused: this Host is not loopback nor in admin.allowed_hosts");
  }
  if (isWrite(request.method) && request.method != HTTP_DELETE) {
    std::string_view type = request.header("content-type");
    type = http::trimOws(type.substr(0, type.find(';')));
    if (!http::equalsIgnoreCase(type, "application/json")) {
      http::Response r = refuse(415, "writes need Content-Type: application/json");
      r.headers.emplace_back("Accept", "application/json");
      return r;
    }
  }
  if (isWrite(request.method) && (has_origin || has_site) &&
      !equalSecret(http::trimOws(request.header("x-csrf-token")), csrf_token_)) {
    return refuse(403, "refused: a browser's write needs the status page's X-CSRF-Token");
  }
  http::Response go_on;
  go_on.status = 0;
  return go_on;
}

}  // namespace balancer
