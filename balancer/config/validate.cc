#include "balancer/config/validate.h"

#include <algorithm>
#include <set>
#include <string>

#include "balancer/jwks/jwks_url.h"

namespace balancer::config {

namespace {

void validateListeners(const Config& config, const Positions& at,
                       std::vector<ConfigError>* errors) {
  std::set<std::string> names;
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& l = config.listeners[i];
    std::string path = "listeners[" + std::to_string(i) + "]";
    // A name given twice; a listener named after its address is checked when it binds.
    if (at.has(path + ".name") && !names.insert(l.name).second) {
      errors->push_back(at.error(path + ".name", "duplicate listener name '" + l.name + "'"));
    }
    if (l.redirect_to_https && l.tls) {
      errors->push_back(
          at.error(path + ".redirect_to_https", "a TLS listener cannot redirect to itself"));
    }
  }
}

void validateUpstreams(const Config& config, const Positions& at,
                       std::vector<ConfigError>* errors) {
  for (const UpstreamConfig& u : config.upstreams) {
    std::string path = "upstreams." + u.name;
    if (u.health_check &&
        (u.health_check->timeout.count() <= 0 || u.health_check->interval.count() <= 0)) {
      errors->push_back(at.error(path + ".health_check",
                                 "health_check interval and timeout must be positive"));
    }
    const auto& oc = u.outlier_detection;
    if (oc && (oc->base_ejection_time.count() <= 0 ||
               oc->max_ejection_time < oc->base_ejection_time)) {
      errors->push_back(
          at.error(path + ".outlier_detection",
                   "outlier_detection needs 0 < base_ejection_time <= max_ejection_time"));
    }
  }
}

// A config whose routes all serve files needs no upstreams; any other needs the section.
void validateUpstreamsPresent(const Config& config, const Positions& at,
                              std::vector<ConfigError>* errors) {
  bool all_static = !config.routes.empty() &&
                    std::all_of(config.routes.begin(), config.routes.end(),
                                [](const RouteConfig& r) { return r.static_files.has_value(); });
  if (!at.has("upstreams") && !all_static) {
    errors->push_back(at.error("", "the configuration needs upstreams"));
  }
}

void validateRoute(const Config& config, const RouteConfig& route, const std::string& path,
                   const Positions& at, std::vector<ConfigError>* errors) {
  if (at.has(path + ".match")) {
    bool exact = at.has(path + ".match.path");
    bool prefix = at.has(path + ".match.path_prefix");
    if (exact && prefix) {
      errors->push_back(at.error(path + ".match", "match takes path or path_prefix, not both"));
    } else if (!exact && !prefix) {
      errors->push_back(at.error(path + ".match", "match needs path or path_prefix"));
    }
  }
  bool has_upstream = at.has(path + ".upstream");
  bool has_static = at.has(path + ".static");
  if (has_upstream && has_static) {
    errors->push_back(at.error(path + ".static", "a route takes upstream or static, not both"));
  } else if (!has_upstream && !has_static) {
    errors->push_back(at.error(path, "route needs an upstream (or static)"));
  }
  if (!route.upstream.empty() && config.findUpstream(route.upstream) == nullptr) {
    errors->push_back(at.error(path + ".upstream",
                               "route names unknown upstream '" + route.upstream + "'"));
  }
  if (route.cache && !route.cache->zone.empty()) {
    bool known = false;
    for (const CacheZoneConfig& zone : config.cache_zones) {
      known = known || zone.name == route.cache->zone;
    }
    if (!known) {
      errors->push_back(at.error(path + ".cache.zone",
                                 "route names unknown cache zone '" + route.cache->zone + "'"));
    }
  }
  const std::string& strip = route.strip_prefix;
  if (!strip.empty() && strip.front() == '/' && !route.path_prefix.empty() &&
      route.path_prefix.rfind(strip, 0) != 0) {
    errors->push_back(at.error(path + ".strip_prefix",
                               "strip_prefix '" + strip + "' is not a prefix of path_prefix '" +
                                   route.path_prefix + "'"));
  }
  if (route.auth != AuthMode::kNone && !config.jwt) {
    std::string mode = route.auth == AuthMode::kJwt ? "jwt" : "jwt_optional";
    errors->push_back(
        at.error(path + ".auth", "auth: " + mode + " needs a top-level jwt section"));
  }
  if (!route.require_roles.empty() && route.auth == AuthMode::kNone) {
    errors->push_back(at.error(path + ".require_roles", "require_roles needs auth: jwt"));
  }
  if (route.cors && route.cors->credentials &&
      std::find(route.cors->origins.begin(), route.cors->origins.end(), "*") !=
          route.cors->origins.end()) {
    errors->push_back(at.error(path + ".cors.credentials",
                               "credentials: true needs listed origins, not * (browsers refuse "
                               "a wildcard with credentials)"));
  }
  if (route.rate_limit && route.rate_limit->scope == RateLimitConfig::Scope::kGlobal &&
      !config.redis) {
    errors->push_back(at.error(path + ".rate_limit.scope",
                               "scope: global needs a top-level redis section"));
  }
}

// An admin API other machines can reach drains backends and adds its own: not without a token.
void validateRedis(const Positions& at, std::vector<ConfigError>* errors) {
  if (at.has("redis.fail_open") && at.has("redis.on_unavailable")) {
    errors->push_back(at.error("redis.fail_open",
                               "redis takes on_unavailable or fail_open (its older spelling), "
                               "not both"));
  }
}

void validateAdmin(const Config& config, const Positions& at, std::vector<ConfigError>* errors) {
  if (at.has("admin.token") && at.has("admin.token_file")) {
    errors->push_back(at.error("admin.token_file", "admin takes token or token_file, not both"));
  }
  if (config.admin_address && config.admin_token.empty() &&
      !util::isLoopback(config.admin_address->get())) {
    errors->push_back(at.error(
        "admin.address", "admin.address " + config.admin_address->text +
                             " can be reached from other machines: set admin.token (or "
                             "admin.token_file), or bind a loopback address"));
  }
}

// Keys come from one place: a file or a URL.
void validateJwt(const Config& config, const Positions& at, std::vector<ConfigError>* errors) {
  if (!config.jwt) {
    return;
  }
  const JwtConfig& jwt = *config.jwt;
  bool file = at.has("jwt.jwks_file");
  bool url = at.has("jwt.jwks_url");
  if (file && url) {
    errors->push_back(at.error("jwt.jwks_url", "jwt takes jwks_file or jwks_url, not both"));
  } else if (!file && !url) {
    errors->push_back(at.error("jwt", "jwt needs jwks_file or jwks_url"));
  }
  if (url) {
    std::string why = jwks::checkJwksUrl(jwt.jwks_url, jwt.jwks_insecure_http);
    if (!why.empty()) {
      errors->push_back(at.error("jwt.jwks_url", "jwt.jwks_url " + why));
    }
  }
  if (!url && at.has("jwt.jwks_ca")) {
    errors->push_back(at.error("jwt.jwks_ca", "jwks_ca needs jwks_url"));
  }
  if (!url && at.has("jwt.jwks_insecure_http")) {
    errors->push_back(at.error("jwt.jwks_insecure_http", "jwks_insecure_http needs jwks_url"));
  }
  if (!url && at.has("jwt.jwks_refresh")) {
    errors->push_back(at.error("jwt.jwks_refresh", "jwks_refresh needs jwks_url"));
  }
  if (jwt.jwks_refresh.min > jwt.jwks_refresh.max) {
    errors->push_back(at.error("jwt.jwks_refresh.min",
                               "jwt.jwks_refresh.min must not be above jwt.jwks_refresh.max"));
  }
}

}  // namespace

void validate(const Config& config, const Positions& at, std::vector<ConfigError>* errors) {
  validateAdmin(config, at, errors);
  validateRedis(at, errors);
  validateJwt(config, at, errors);
  validateListeners(config, at, errors);
  validateUpstreamsPresent(config, at, errors);
  validateUpstreams(config, at, errors);
  for (size_t i = 0; i < config.routes.size(); ++i) {
    validateRoute(config, config.routes[i], "routes[" + std::to_string(i) + "]", at, errors);
  }
}

}  // namespace balancer::config
