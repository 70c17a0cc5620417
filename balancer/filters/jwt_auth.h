#pragma once

#include <string>
#include <utility>
#include <vector>

#include "balancer/config.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's `auth: jwt` (or jwt_optional): the bearer token is verified (through the worker's
// token cache), its roles checked against require_roles, and its claims copied into the
// headers the forwarded request carries (claims_to_headers). A WebSocket upgrade may bring
// its token as ?access_token= (browsers cannot set headers there); it is then not forwarded.
// 401 with a Bearer challenge for a missing or bad token, 403 for a missing role. The token's
// exp (plus leeway) is left for the exchange: a WebSocket it opened closes then.
class JwtAuth final : public Filter {
 public:
  JwtAuth(AuthMode mode, std::vector<std::string> require_roles,
          std::vector<std::pair<std::string, std::string>> claims_to_headers,
          int64_t leeway_seconds = 0);
  std::string_view name() const override { return "jwt_auth"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  static Verdict unauthorized(std::string message);
  AuthMode mode_;
  std::vector<std::string> require_roles_;
  std::vector<std::pair<std::string, std::string>> claims_to_headers_;
  int64_t leeway_seconds_;
};

}  // namespace balancer::filters
