#include "balancer/filters/jwt_auth.h"

#include <ctime>

#include "balancer/exchange/head_rewrite.h"
#include "balancer/metrics/worker_metrics.h"
#include "common/http/header_list.h"
#include "common/jwt/token_cache.h"
#include "common/jwt/verifier.h"

namespace balancer::filters {

JwtAuth::JwtAuth(AuthMode mode, std::vector<std::string> require_roles,
                 std::vector<std::pair<std::string, std::string>> claims_to_headers,
                 int64_t leeway_seconds)
    : mode_(mode),
      require_roles_(std::move(require_roles)),
      claims_to_headers_(std::move(claims_to_headers)),
      leeway_seconds_(leeway_seconds) {}

Verdict JwtAuth::unauthorized(std::string message) {
  return Verdict::reply(401, std::move(message),
                        "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
}

Verdict JwtAuth::onRequestHead(FilterContext& ctx) {
  const RequestFacts& req = ctx.request;
  WorkerMetrics& metrics = *ctx.metrics;
  const jwt::Verifier* verifier = ctx.services->verifier();
  if (verifier == nullptr) {
    return Verdict::reply(503, "token keys not loaded");  // the config requires them
  }
  std::string_view token;
  std::string_view authorization = req.headers->find("authorization");
  if (authorization.size() > 7 && http::equalsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ') {
      token.remove_prefix(1);
    }
  }
  if (req.upgrade) {
    // Browsers cannot set headers on a WebSocket: the token may come in the query instead.
    // It is never forwarded, whether it was the one checked or not.
    bool found = false;
    std::string_view query_token = queryParam(req.target.query, "access_token", &found);
    ctx.out.drop_access_token = found;
    if (authorization.empty()) {
      token = query_token;
    }
  }
  if (token.empty()) {
    if (mode_ == AuthMode::kJwtOptional) {
      return Verdict::next();  // anonymous: forwarded without identity headers
    }
    metrics.countJwtRejection(req.route, "missing");
    return unauthorized("missing bearer token");
  }
  jwt::Reason reason = jwt::Reason::kOk;
  const jwt::Claims* claims = ctx.services->tokenCache().verify(
      *verifier, token, static_cast<int64_t>(time(nullptr)), &reason);
  if (claims == nullptr) {
    if (reason == jwt::Reason::kUnknownKid) {
      ctx.services->refetchKeys();  // rejected now, not held: the next try may pass
    }
    metrics.countJwtRejection(req.route, jwt::reasonName(reason));
    return unauthorized(std::string("invalid token: ") + jwt::reasonName(reason));
  }
  if (!require_roles_.empty()) {
    bool allowed = false;
    for (const std::string& role : require_roles_) {
      allowed = allowed || claims->hasRole(role);
    }
    if (!allowed) {
      metrics.countJwtRejection(req.route, "forbidden_role");
      return Verdict::reply(403, "missing role");
    }
  }
  ctx.out.user->assign(claims->sub);
  ctx.out.token_expires_s = claims->exp + leeway_seconds_;
  std::string& identity = *ctx.out.identity_headers;
  for (const auto& [claim, header] : claims_to_headers_) {
    if (auto value = claims->claim(claim)) {
      identity.append(header).append(": ").append(*value).append("\r\n");
    }
  }
  return Verdict::next();
}

}  // namespace balancer::filters
