#include "services/kit/identity.h"

#include <charconv>

#include "services/kit/reply.h"

namespace kit {

Identity Identity::fromRequest(const http::Request& request) {
  Identity who;
  std::string_view id = request.header("X-User-Id");
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (!id.empty() && ec == std::errc() && ptr == id.data() + id.size() && value > 0) {
    who.user_id = value;
  }
  std::string_view roles = request.header("X-User-Roles");
  while (!roles.empty()) {
    size_t comma = roles.find(',');
    std::string_view role = roles.substr(0, comma);
    while (!role.empty() && role.front() == ' ') {
      role.remove_prefix(1);
    }
    while (!role.empty() && role.back() == ' ') {
      role.remove_suffix(1);
    }
    if (!role.empty()) {
      who.roles.emplace_back(role);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    roles.remove_prefix(comma + 1);
  }
  return who;
}

bool Identity::hasRole(std::string_view role) const {
  for (const std::string& r : roles) {
    if (r == role) {
      return true;
    }
  }
  return false;
}

bool Identity::hasAnyRole(std::initializer_list<std::string_view> wanted) const {
  for (std::string_view role : wanted) {
    if (hasRole(role)) {
      return true;
    }
  }
  return false;
}

bool requireUser(const Identity& who, http::Responder& responder) {
  if (who.known()) {
    return true;
  }
  http::Response r = errorResponse(401, "authentication required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  responder.send(std::move(r));
  return false;
}

bool requireRole(const Identity& who, std::initializer_list<std::string_view> roles,
                 http::Responder& responder) {
  if (!requireUser(who, responder)) {
    return false;
  }
  if (who.hasAnyRole(roles)) {
    return true;
  }
  std::string names;
  for (std::string_view role : roles) {
    names += names.empty() ? "" : " or ";
    names += role;
  }
  responder.send(errorResponse(403, "this needs the role " + names));
  return false;
}

}  // namespace kit
