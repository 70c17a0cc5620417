#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/server.h"

namespace balancer {

// Who may use the admin API, checked before any endpoint runs. The API drains backends and
// adds new ones, so a web page in an operator's browser must not reach it:
// - a Host that is not loopback nor in admin.allowed_hosts is refused (403), unless the
//   request carries the token: a page that got there by DNS rebinding names its own host;
// - a request a browser marks cross-site (Sec-Fetch-Site) or sends from a foreign Origin is
//   refused (403);
// - a write with a body must be application/json (415), which a page cannot send to another
//   origin without a preflight that this API never approves;
// - a browser's write (it sends Origin) must carry the status page's per-process CSRF token
//   in X-CSRF-Token (403);
// - with admin.token, everything but GET /health needs Authorization: Bearer TOKEN (401).
class AdminAccess {
 public:
  AdminAccess(std::string token, std::vector<std::string> allowed_hosts);

  // The refusal for `request`, or a response with status 0 when it may go on.
  http::Response check(const http::Request& request) const;
  // Whether the request carries the bearer token (true when none is configured).
  bool authorized(const http::Request& request) const;
  // A loopback name or address, or one of allowed_hosts; `host` as in a Host header (with
  // an optional port).
  bool hostAllowed(std::string_view host) const;
  // The per-process token the status page puts in its writes.
  const std::string& csrfToken() const { return csrf_token_; }
  bool hasToken() const { return !token_.empty(); }

 private:
  bool originAllowed(std::string_view origin) const;

  std::string token_;
  std::vector<std::string> allowed_hosts_;  // lower case
  std::string csrf_token_;
};

}  // namespace balancer
