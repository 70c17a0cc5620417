#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/server.h"

namespace kit {

// Who is calling, as the balancer forwards it after checking the JWT: X-User-Id (the token's
// sub) and X-User-Roles (its roles, comma-separated). The balancer removes client-sent copies
// of these headers, so services trust them; that is why they listen on loopback by default.
struct Identity {
  int64_t user_id = -1;  // -1: anonymous
  std::vector<std::string> roles;

  static Identity fromRequest(const http::Request& request);
  bool known() const { return user_id > 0; }
  bool hasRole(std::string_view role) const;
  bool hasAnyRole(std::initializer_list<std::string_view> wanted) const;
};

// Answers 401 (no identity) or 403 (none of the roles) and returns false; true when allowed.
bool requireUser(const Identity& who, http::Responder& responder);
bool requireRole(const Identity& who, std::initializer_list<std::string_view> roles,
                 http::Responder& responder);

}  // namespace kit
