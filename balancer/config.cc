#include "balancer/config.h"

#include "balancer/rate_limit/rate.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <functional>
#include <set>

namespace balancer {

namespace {

// Walks the YAML tree, converting values and collecting errors with their positions.
class Reader {
 public:
  std::vector<ConfigError> errors;
  std::string base_dir;  // relative file paths are resolved against it

  // Resolves `path` against base_dir and checks that it can be read.
  std::optional<std::string> readableFile(const YAML::Node& node, const std::string& what) {
    auto text = scalar(node, what);
    if (!text) {
      return std::nullopt;
    }
    std::string path = (!text->empty() && text->front() == '/') || base_dir.empty()
                           ? *text
                           : base_dir + "/" + *text;
    if (access(path.c_str(), R_OK) != 0) {
      error(node, what + ": cannot read '" + path + "'");
      return std::nullopt;
    }
    return path;
  }

  void error(const YAML::Node& at, const std::string& message) {
    YAML::Mark mark = at.Mark();
    errors.push_back(ConfigError{mark.line + 1, mark.column + 1, message});
  }

  bool isMap(const YAML::Node& node, const std::string& what) {
    if (!node.IsMap()) {
      error(node, what + " must be a mapping");
      return false;
    }
    return true;
  }

  // Reports each key of the mapping that is not in `allowed`.
  void checkKeys(const YAML::Node& map, const std::string& where,
                 std::initializer_list<const char*> allowed) {
    for (const auto& item : map) {
      std::string key = item.first.Scalar();
      bool known = std::any_of(allowed.begin(), allowed.end(),
                               [&](const char* a) { return key == a; });
      if (!known) {
        std::string list;
        for (const char* a : allowed) {
          list += list.empty() ? a : std::string(", ") + a;
        }
        error(item.first, "unknown key '" + key + "' in " + where + " (expected one of: " +
                              list + ")");
      }
    }
  }

  std::optional<std::string> scalar(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      error(node, what + " must be a single value");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<Millis> duration(const YAML::Node& node, const std::string& what) {
    auto text = scalar(node, what);
    if (!text) {
      return std::nullopt;
    }
    std::string message;
    auto value = util::parseDuration(*text, &message);
    if (!value) {
      error(node, what + ": " + message);
    }
    return value;
  }

  std::optional<uint64_t> size(const YAML::Node& node, const std::string& what) {
    auto text = scalar(node, what);
    if (!text) {
      return std::nullopt;
    }
    std::string message;
    auto value = util::parseSize(*text, &message);
    if (!value) {
      error(node, what + ": " + message);
    }
    return value;
  }

  std::optional<int64_t> integer(const YAML::Node& node, const std::string& what, int64_t min,
                                 int64_t max) {
    auto text = scalar(node, what);
    if (!text) {
      return std::nullopt;
    }
    if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos ||
        text->size() > 12) {
      error(node, what + " must be a whole number, got '" + *text + "'");
      return std::nullopt;
    }
    int64_t value = std::stoll(*text);
    if (value < min || value > max) {
      error(node, what + " must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", got " + *text);
      return std::nullopt;
    }
    return value;
  }

  std::optional<util::SocketAddress> address(const YAML::Node& node, const std::string& what) {
    auto text = scalar(node, what);
    if (!text) {
      return std::nullopt;
    }
    std::string message;
    auto value = util::parseSocketAddress(*text, &message);
    if (!value) {
      error(node, what + ": " + message);
    }
    return value;
  }

  std::vector<std::string> stringList(const YAML::Node& node, const std::string& what) {
    std::vector<std::string> out;
    if (!node.IsSequence()) {
      error(node, what + " must be a list");
      return out;
    }
    for (const auto& item : node) {
      if (auto s = scalar(item, what + " item")) {
        out.push_back(*s);
      }
    }
    return out;
  }
};

void readTimeouts(Reader& r, const YAML::Node& node, TimeoutsConfig* out) {
  if (!r.isMap(node, "timeouts")) {
    return;
  }
  r.checkKeys(node, "timeouts", {"client_header", "client_idle", "tunnel_idle", "client_write"});
  if (node["client_header"]) {
    if (auto d = r.duration(node["client_header"], "timeouts.client_header")) {
      out->client_header = *d;
    }
  }
  if (node["client_idle"]) {
    if (auto d = r.duration(node["client_idle"], "timeouts.client_idle")) {
      out->client_idle = *d;
    }
  }
  if (node["tunnel_idle"]) {
    if (auto d = r.duration(node["tunnel_idle"], "timeouts.tunnel_idle")) {
      out->tunnel_idle = *d;
    }
  }
  if (node["client_write"]) {
    if (auto d = r.duration(node["client_write"], "timeouts.client_write")) {
      out->client_write = *d;
    }
  }
}

void readLimits(Reader& r, const YAML::Node& node, LimitsConfig* out) {
  if (!r.isMap(node, "limits")) {
    return;
  }
  r.checkKeys(node, "limits",
              {"max_header_bytes", "max_headers", "max_body_size", "max_connections_per_worker"});
  if (node["max_connections_per_worker"]) {
    if (auto v = r.integer(node["max_connections_per_worker"], "limits.max_connections_per_worker",
                           0, 10000000)) {
      out->max_connections_per_worker = static_cast<size_t>(*v);
    }
  }
  if (node["max_header_bytes"]) {
    if (auto v = r.size(node["max_header_bytes"], "limits.max_header_bytes")) {
      out->max_header_bytes = *v;
    }
  }
  if (node["max_headers"]) {
    if (auto v = r.integer(node["max_headers"], "limits.max_headers", 1, 10000)) {
      out->max_headers = static_cast<size_t>(*v);
    }
  }
  if (node["max_body_size"]) {
    if (auto v = r.size(node["max_body_size"], "limits.max_body_size")) {
      out->max_body_size = *v;
    }
  }
}

TlsConfig readTls(Reader& r, const YAML::Node& node) {
  TlsConfig tls;
  if (!r.isMap(node, "tls")) {
    return tls;
  }
  r.checkKeys(node, "tls", {"certificates", "min_version", "ciphers", "ciphersuites"});
  if (!node["certificates"] || !node["certificates"].IsSequence() ||
      node["certificates"].size() == 0) {
    r.error(node, "tls needs a list of certificates ({cert, key}); the first is the default");
  } else {
    for (const auto& c : node["certificates"]) {
      if (!r.isMap(c, "a certificate")) {
        continue;
      }
      r.checkKeys(c, "certificate", {"cert", "key"});
      TlsCertificateConfig files;
      if (!c["cert"] || !c["key"]) {
        r.error(c, "a certificate needs cert and key");
        continue;
      }
      auto cert = r.readableFile(c["cert"], "cert");
      auto key = r.readableFile(c["key"], "key");
      if (cert && key) {
        tls.certificates.push_back({*cert, *key});
      }
    }
  }
  if (node["min_version"]) {
    if (auto v = r.scalar(node["min_version"], "tls.min_version")) {
      if (*v != "1.2" && *v != "1.3") {
        r.error(node["min_version"], "tls.min_version must be \"1.2\" or \"1.3\"");
      }
      tls.min_version = *v;
    }
  }
  if (node["ciphers"]) {
    tls.ciphers = r.scalar(node["ciphers"], "tls.ciphers").value_or("");
  }
  if (node["ciphersuites"]) {
    tls.ciphersuites = r.scalar(node["ciphersuites"], "tls.ciphersuites").value_or("");
  }
  return tls;
}

void readListeners(Reader& r, const YAML::Node& node, std::vector<ListenerConfig>* out) {
  if (!node.IsSequence()) {
    r.error(node, "listeners must be a list");
    return;
  }
  std::set<std::string> names;
  for (const auto& item : node) {
    if (!r.isMap(item, "a listener")) {
      continue;
    }
    r.checkKeys(item, "listener", {"name", "address", "tls", "redirect_to_https", "access_log"});
    ListenerConfig l;
    if (item["name"]) {
      if (auto s = r.scalar(item["name"], "listener name")) {
        l.name = *s;
        if (!names.insert(l.name).second) {
          r.error(item["name"], "duplicate listener name '" + l.name + "'");
        }
      }
    }
    if (!item["address"]) {
      r.error(item, "listener needs an address");
    } else if (auto a = r.address(item["address"], "listener address")) {
      l.address = *a;
    }
    if (item["tls"]) {
      l.tls = readTls(r, item["tls"]);
    }
    if (item["redirect_to_https"]) {
      auto v = r.scalar(item["redirect_to_https"], "redirect_to_https");
      if (v && *v != "true" && *v != "false") {
        r.error(item["redirect_to_https"], "redirect_to_https must be true or false");
      }
      l.redirect_to_https = v && *v == "true";
      if (l.redirect_to_https && item["tls"]) {
        r.error(item["redirect_to_https"], "a TLS listener cannot redirect to itself");
      }
    }
    if (item["access_log"]) {
      auto v = r.scalar(item["access_log"], "listener access_log");
      if (v && *v != "true" && *v != "false") {
        r.error(item["access_log"], "a listener's access_log must be true or false");
      }
      l.access_log = !v || *v != "false";
    }
    if (l.name.empty()) {
      l.name = l.address.text;
    }
    out->push_back(l);
  }
}

std::optional<AccessLogConfig> readAccessLog(Reader& r, const YAML::Node& node) {
  if (!r.isMap(node, "access_log")) {
    return std::nullopt;
  }
  r.checkKeys(node, "access_log", {"path", "format", "enabled"});
  AccessLogConfig al;
  bool enabled = true;
  if (node["enabled"]) {
    auto v = r.scalar(node["enabled"], "access_log.enabled");
    if (v && *v != "true" && *v != "false") {
      r.error(node["enabled"], "access_log.enabled must be true or false");
    }
    enabled = !v || *v != "false";
  }
  if (node["path"]) {
    auto path = r.scalar(node["path"], "access_log.path");
    if (path && path->empty()) {
      r.error(node["path"], "access_log.path must not be empty");
    } else if (path && *path != "stdout") {
      al.path = path->front() == '/' || r.base_dir.empty() ? *path : r.base_dir + "/" + *path;
    }
  }
  if (node["format"]) {
    auto format = r.scalar(node["format"], "access_log.format");
    if (format && *format != "json") {
      r.error(node["format"], "access_log.format must be json");
    }
  }
  if (!enabled) {
    return std::nullopt;
  }
  return al;
}

void readHealthCheck(Reader& r, const YAML::Node& node, HealthCheckConfig* hc) {
  if (!r.isMap(node, "health_check")) {
    return;
  }
  r.checkKeys(node, "health_check",
              {"path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold"});
  if (node["path"]) {
    if (auto s = r.scalar(node["path"], "health_check.path")) {
      if (s->empty() || s->front() != '/') {
        r.error(node["path"], "health_check.path must start with '/'");
      }
      hc->path = *s;
    }
  }
  if (node["interval"]) {
    if (auto d = r.duration(node["interval"], "health_check.interval")) {
      hc->interval = *d;
    }
  }
  if (node["timeout"]) {
    if (auto d = r.duration(node["timeout"], "health_check.timeout")) {
      hc->timeout = *d;
    }
  }
  if (node["healthy_threshold"]) {
    if (auto v = r.integer(node["healthy_threshold"], "health_check.healthy_threshold", 1, 100)) {
      hc->healthy_threshold = static_cast<int>(*v);
    }
  }
  if (node["unhealthy_threshold"]) {
    if (auto v =
            r.integer(node["unhealthy_threshold"], "health_check.unhealthy_threshold", 1, 100)) {
      hc->unhealthy_threshold = static_cast<int>(*v);
    }
  }
  if (hc->timeout.count() <= 0 || hc->interval.count() <= 0) {
    r.error(node, "health_check interval and timeout must be positive");
  }
}

void readOutlier(Reader& r, const YAML::Node& node, OutlierConfig* oc) {
  if (!r.isMap(node, "outlier_detection")) {
    return;
  }
  r.checkKeys(node, "outlier_detection",
              {"consecutive_failures", "base_ejection_time", "max_ejection_time",
               "max_ejection_percent"});
  if (node["consecutive_failures"]) {
    if (auto v = r.integer(node["consecutive_failures"], "consecutive_failures", 1, 1000)) {
      oc->consecutive_failures = static_cast<int>(*v);
    }
  }
  if (node["base_ejection_time"]) {
    if (auto d = r.duration(node["base_ejection_time"], "base_ejection_time")) {
      oc->base_ejection_time = *d;
    }
  }
  if (node["max_ejection_time"]) {
    if (auto d = r.duration(node["max_ejection_time"], "max_ejection_time")) {
      oc->max_ejection_time = *d;
    }
  }
  if (node["max_ejection_percent"]) {
    if (auto v = r.integer(node["max_ejection_percent"], "max_ejection_percent", 0, 100)) {
      oc->max_ejection_percent = static_cast<int>(*v);
    }
  }
  if (oc->base_ejection_time.count() <= 0 || oc->max_ejection_time < oc->base_ejection_time) {
    r.error(node, "outlier_detection needs 0 < base_ejection_time <= max_ejection_time");
  }
}

void readUpstream(Reader& r, const std::string& name, const YAML::Node& node, UpstreamConfig* u) {
  u->name = name;
  if (!r.isMap(node, "upstream '" + name + "'")) {
    return;
  }
  r.checkKeys(node, "upstream '" + name + "'",
              {"balance", "backends", "health_check", "connect_timeout", "request_timeout",
               "read_timeout", "retries", "pool", "outlier_detection", "slow_start", "dns_refresh"});
  if (node["balance"]) {
    if (auto s = r.scalar(node["balance"], "balance")) {
      if (*s == "round_robin") {
        u->balance = BalanceKind::kRoundRobin;
      } else if (*s == "least_conn") {
        u->balance = BalanceKind::kLeastConn;
      } else if (*s == "p2c") {
        u->balance = BalanceKind::kP2C;
      } else {
        r.error(node["balance"],
                "unknown balance '" + *s + "' (expected round_robin, least_conn or p2c)");
      }
    }
  }
  if (!node["backends"]) {
    r.error(node, "upstream '" + name + "' needs backends");
  } else if (!node["backends"].IsSequence()) {
    r.error(node["backends"], "backends must be a list");
  } else {
    std::set<std::string> seen;
    for (const auto& b : node["backends"]) {
      if (!r.isMap(b, "a backend")) {
        continue;
      }
      r.checkKeys(b, "backend", {"address", "weight"});
      BackendConfig bc;
      if (!b["address"]) {
        r.error(b, "backend needs an address");
        continue;
      }
      if (b["weight"]) {
        if (auto w = r.integer(b["weight"], "weight", 1, 1000)) {
          bc.weight = static_cast<int>(*w);
        }
      }
      auto text = r.scalar(b["address"], "backend address");
      if (!text) {
        continue;
      }
      if (!seen.insert(*text).second) {
        r.error(b["address"], "duplicate backend '" + *text + "'");
      }
      if (auto dns = util::parseDnsHostPort(*text)) {
        u->dns_backends.push_back({dns->host, dns->port, bc.weight, *text});
        continue;  // looked up at run time (balancer/discovery)
      }
      auto a = r.address(b["address"], "backend address");
      if (!a) {
        continue;
      }
      bc.address = *a;
      u->backends.push_back(bc);
    }
  }
  if (node["health_check"]) {
    HealthCheckConfig hc;
    readHealthCheck(r, node["health_check"], &hc);
    u->health_check = hc;
  }
  if (node["connect_timeout"]) {
    if (auto d = r.duration(node["connect_timeout"], "connect_timeout")) {
      u->connect_timeout = *d;
    }
  }
  if (node["request_timeout"]) {
    if (auto d = r.duration(node["request_timeout"], "request_timeout")) {
      u->request_timeout = *d;
    }
  }
  if (node["read_timeout"]) {
    if (auto d = r.duration(node["read_timeout"], "read_timeout")) {
      u->read_timeout = *d;
    }
  }
  if (node["retries"]) {
    if (auto v = r.integer(node["retries"], "retries", 0, 10)) {
      u->retries = static_cast<int>(*v);
    }
  }
  if (node["outlier_detection"]) {
    OutlierConfig oc;
    readOutlier(r, node["outlier_detection"], &oc);
    u->outlier_detection = oc;
  }
  if (node["slow_start"]) {
    if (auto d = r.duration(node["slow_start"], "slow_start")) {
      u->slow_start = *d;
    }
  }
  if (node["dns_refresh"]) {
    if (auto d = r.duration(node["dns_refresh"], "dns_refresh")) {
      if (d->count() < 100) {
        r.error(node["dns_refresh"], "dns_refresh must be at least 100ms");
      } else {
        u->dns_refresh = *d;
      }
    }
  }
  if (node["pool"]) {
    const YAML::Node& p = node["pool"];
    if (r.isMap(p, "pool")) {
      r.checkKeys(p, "pool", {"max_idle", "idle_timeout"});
      const YAML::Node& max_idle = p["max_idle"];
      if (max_idle && !(max_idle.IsScalar() && max_idle.Scalar() == "auto")) {
        if (auto v = r.integer(max_idle, "pool.max_idle (a count or auto)", 0, 100000)) {
          u->pool.max_idle = static_cast<size_t>(*v);
        }
      }
      if (p["idle_timeout"]) {
        if (auto d = r.duration(p["idle_timeout"], "pool.idle_timeout")) {
          u->pool.idle_timeout = *d;
        }
      }
    }
  }
}

bool isToken(const std::string& s) {
  if (s.empty()) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::optional<RateLimitConfig> readRateLimit(Reader& r, const YAML::Node& node, bool has_redis) {
  if (!r.isMap(node, "rate_limit")) {
    return std::nullopt;
  }
  r.checkKeys(node, "rate_limit", {"rate", "burst", "key", "scope"});
  RateLimitConfig rl;
  if (!node["rate"]) {
    r.error(node, "rate_limit needs a rate (e.g. 100/s)");
  } else if (auto text = r.scalar(node["rate"], "rate_limit.rate")) {
    std::string message;
    if (auto rate = rate_limit::parseRate(*text, &message)) {
      rl.rate = *rate;
    } else {
      r.error(node["rate"], "rate_limit.rate: " + message);
    }
  }
  rl.burst = rl.rate > 1 ? rl.rate : 1;
  if (node["burst"]) {
    if (auto v = r.integer(node["burst"], "rate_limit.burst", 1, 100000000)) {
      rl.burst = static_cast<double>(*v);
    }
  }
  if (node["key"]) {
    auto k = r.scalar(node["key"], "rate_limit.key").value_or("");
    if (k == "ip") {
      rl.key = RateLimitConfig::Key::kIp;
    } else if (k == "user") {
      rl.key = RateLimitConfig::Key::kUser;
    } else if (k == "route") {
      rl.key = RateLimitConfig::Key::kRoute;
    } else {
      r.error(node["key"], "rate_limit.key must be ip, user or route");
    }
  }
  if (node["scope"]) {
    auto sc = r.scalar(node["scope"], "rate_limit.scope").value_or("");
    if (sc == "local") {
      rl.scope = RateLimitConfig::Scope::kLocal;
    } else if (sc == "global") {
      rl.scope = RateLimitConfig::Scope::kGlobal;
      if (!has_redis) {
        r.error(node["scope"], "scope: global needs a top-level redis section");
      }
    } else {
      r.error(node["scope"], "rate_limit.scope must be local or global");
    }
  }
  return rl;
}

void readRoute(Reader& r, const YAML::Node& node, const Config& config, bool has_jwt,
               RouteConfig* route) {
  if (!r.isMap(node, "a route")) {
    return;
  }
  r.checkKeys(node, "route", {"match", "upstream", "strip_prefix", "auth", "require_roles",
                              "rate_limit", "max_body_size"});
  if (node["max_body_size"]) {
    route->max_body_size = r.size(node["max_body_size"], "max_body_size");
  }
  if (!node["match"]) {
    r.error(node, "route needs a match");
  } else if (r.isMap(node["match"], "match")) {
    const YAML::Node& m = node["match"];
    r.checkKeys(m, "match", {"host", "path", "path_prefix", "methods"});
    if (m["host"]) {
      if (auto s = r.scalar(m["host"], "match.host")) {
        route->host = *s;
        std::transform(route->host.begin(), route->host.end(), route->host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      }
    }
    if (m["path"]) {
      if (auto s = r.scalar(m["path"], "match.path")) {
        route->path = *s;
        if (s->empty() || s->front() != '/') {
          r.error(m["path"], "match.path must start with '/'");
        }
      }
    }
    if (m["path_prefix"]) {
      if (auto s = r.scalar(m["path_prefix"], "match.path_prefix")) {
        route->path_prefix = *s;
        if (s->empty() || s->front() != '/') {
          r.error(m["path_prefix"], "match.path_prefix must start with '/'");
        }
      }
    }
    if (m["path"] && m["path_prefix"]) {
      r.error(m, "match takes path or path_prefix, not both");
    }
    if (!m["path"] && !m["path_prefix"]) {
      r.error(m, "match needs path or path_prefix");
    }
    if (m["methods"]) {
      route->methods = r.stringList(m["methods"], "match.methods");
      for (const auto& method : route->methods) {
        if (!isToken(method)) {
          r.error(m["methods"], "invalid method '" + method + "' (use upper case, e.g. GET)");
        }
      }
    }
  }
  if (!node["upstream"]) {
    r.error(node, "route needs an upstream");
  } else if (auto s = r.scalar(node["upstream"], "upstream")) {
    route->upstream = *s;
    if (config.findUpstream(*s) == nullptr) {
      r.error(node["upstream"], "route names unknown upstream '" + *s + "'");
    }
  }
  if (node["strip_prefix"]) {
    if (auto s = r.scalar(node["strip_prefix"], "strip_prefix")) {
      route->strip_prefix = *s;
      if (s->empty() || s->front() != '/') {
        r.error(node["strip_prefix"], "strip_prefix must start with '/'");
      } else if (!route->path_prefix.empty() && route->path_prefix.rfind(*s, 0) != 0) {
        r.error(node["strip_prefix"],
                "strip_prefix '" + *s + "' is not a prefix of path_prefix '" +
                    route->path_prefix + "'");
      }
    }
  }
  if (node["auth"]) {
    if (auto s = r.scalar(node["auth"], "auth")) {
      if (*s == "none") {
        route->auth = AuthMode::kNone;
      } else if (*s == "jwt" || *s == "jwt_optional") {
        route->auth = *s == "jwt" ? AuthMode::kJwt : AuthMode::kJwtOptional;
        if (!has_jwt) {
          r.error(node["auth"], "auth: " + *s + " needs a top-level jwt section");
        }
      } else {
        r.error(node["auth"], "unknown auth '" + *s + "' (expected none, jwt or jwt_optional)");
      }
    }
  }
  if (node["require_roles"]) {
    route->require_roles = r.stringList(node["require_roles"], "require_roles");
    if (!route->require_roles.empty() && route->auth == AuthMode::kNone) {
      r.error(node["require_roles"], "require_roles needs auth: jwt");
    }
  }
  if (node["rate_limit"]) {
    route->rate_limit = readRateLimit(r, node["rate_limit"], config.redis.has_value());
  }
}

void readConfig(Reader& r, const YAML::Node& root, Config* config) {
  if (!root.IsMap()) {
    if (root.IsNull()) {
      r.errors.push_back(ConfigError{1, 1, "the configuration is empty"});
    } else {
      r.error(root, "the configuration must be a mapping");
    }
    return;
  }
  r.checkKeys(root, "the configuration",
              {"workers", "shutdown_timeout", "timeouts", "limits", "listeners", "admin",
               "redis", "jwt", "upstreams", "routes", "access_log"});
  if (root["access_log"]) {
    config->access_log = readAccessLog(r, root["access_log"]);
  }
  if (root["workers"]) {
    const YAML::Node& w = root["workers"];
    if (w.IsScalar() && w.Scalar() == "auto") {
      config->workers = 0;
    } else if (auto v = r.integer(w, "workers", 1, 256)) {
      config->workers = static_cast<int>(*v);
    }
  }
  if (root["shutdown_timeout"]) {
    if (auto d = r.duration(root["shutdown_timeout"], "shutdown_timeout")) {
      config->shutdown_timeout = *d;
    }
  }
  if (root["timeouts"]) {
    readTimeouts(r, root["timeouts"], &config->timeouts);
  }
  if (root["limits"]) {
    readLimits(r, root["limits"], &config->limits);
  }
  if (!root["listeners"]) {
    r.error(root, "the configuration needs listeners");
  } else {
    readListeners(r, root["listeners"], &config->listeners);
  }
  if (root["admin"]) {
    const YAML::Node& a = root["admin"];
    if (r.isMap(a, "admin")) {
      r.checkKeys(a, "admin", {"address", "token"});
      if (a["address"]) {
        config->admin_address = r.address(a["address"], "admin.address");
      }
      if (a["token"]) {
        config->admin_token = r.scalar(a["token"], "admin.token").value_or("");
      }
    }
  }
  if (root["redis"]) {
    const YAML::Node& a = root["redis"];
    if (r.isMap(a, "redis")) {
      r.checkKeys(a, "redis", {"address", "timeout", "fail_open"});
      RedisConfig rc;
      if (!a["address"]) {
        r.error(a, "redis needs an address");
      } else if (auto addr = r.address(a["address"], "redis.address")) {
        rc.address = *addr;
      }
      if (a["timeout"]) {
        if (auto d = r.duration(a["timeout"], "redis.timeout")) {
          rc.timeout = *d;
        }
      }
      if (a["fail_open"]) {
        auto v = r.scalar(a["fail_open"], "redis.fail_open").value_or("");
        if (v != "true" && v != "false") {
          r.error(a["fail_open"], "redis.fail_open must be true or false");
        }
        rc.fail_open = v != "false";
      }
      config->redis = rc;
    }
  }
  if (root["jwt"]) {
    const YAML::Node& j = root["jwt"];
    if (r.isMap(j, "jwt")) {
      r.checkKeys(j, "jwt",
                  {"jwks_file", "issuer", "audience", "leeway", "claims_to_headers"});
      JwtConfig jc;
      for (const char* required : {"jwks_file", "issuer", "audience"}) {
        if (!j[required]) {
          r.error(j, std::string("jwt needs ") + required);
        }
      }
      if (j["jwks_file"]) {
        jc.jwks_file = r.readableFile(j["jwks_file"], "jwt.jwks_file").value_or("");
      }
      if (j["issuer"]) {
        jc.issuer = r.scalar(j["issuer"], "jwt.issuer").value_or("");
      }
      if (j["audience"]) {
        jc.audience = r.scalar(j["audience"], "jwt.audience").value_or("");
      }
      if (j["leeway"]) {
        if (auto d = r.duration(j["leeway"], "jwt.leeway")) {
          jc.leeway = *d;
        }
      }
      if (j["claims_to_headers"] && r.isMap(j["claims_to_headers"], "jwt.claims_to_headers")) {
        for (const auto& item : j["claims_to_headers"]) {
          auto header = r.scalar(item.second, "header name");
          if (header && (header->empty() ||
                         header->find_first_of(" \t:\r\n") != std::string::npos)) {
            r.error(item.second, "invalid header name '" + *header + "'");
          } else if (header) {
            jc.claims_to_headers.emplace_back(item.first.Scalar(), *header);
          }
        }
      }
      config->jwt = std::move(jc);
    }
  }
  if (!root["upstreams"]) {
    r.error(root, "the configuration needs upstreams");
  } else if (r.isMap(root["upstreams"], "upstreams")) {
    for (const auto& item : root["upstreams"]) {
      UpstreamConfig u;
      readUpstream(r, item.first.Scalar(), item.second, &u);
      config->upstreams.push_back(std::move(u));
    }
  }
  if (!root["routes"]) {
    r.error(root, "the configuration needs routes");
  } else if (!root["routes"].IsSequence()) {
    r.error(root["routes"], "routes must be a list");
  } else {
    for (const auto& item : root["routes"]) {
      RouteConfig route;
      readRoute(r, item, *config, static_cast<bool>(root["jwt"]), &route);
      config->routes.push_back(std::move(route));
    }
  }
}

ConfigResult loadFrom(const std::function<YAML::Node()>& parse, const std::string& base_dir) {
  ConfigResult result;
  Reader reader;
  reader.base_dir = base_dir;
  Config config;
  try {
    YAML::Node root = parse();
    readConfig(reader, root, &config);
  } catch (const YAML::BadFile& e) {
    reader.errors.push_back(ConfigError{0, 0, "cannot read the file"});
  } catch (const YAML::Exception& e) {
    reader.errors.push_back(ConfigError{e.mark.line + 1, e.mark.column + 1, e.msg});
  }
  result.errors = std::move(reader.errors);
  if (result.errors.empty()) {
    result.config = std::move(config);
  }
  return result;
}

}  // namespace

const UpstreamConfig* Config::findUpstream(const std::string& name) const {
  for (const auto& u : upstreams) {
    if (u.name == name) {
      return &u;
    }
  }
  return nullptr;
}

ConfigResult loadConfigFile(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return loadFrom([&] { return YAML::LoadFile(path); }, dir);
}

ConfigResult loadConfigString(const std::string& yaml) {
  return loadFrom([&] { return YAML::Load(yaml); }, "");
}

std::string formatConfigError(const std::string& file, const ConfigError& error) {
  return file + ":" + std::to_string(error.line) + ":" + std::to_string(error.column) + ": " +
         error.message;
}

}  // namespace balancer
