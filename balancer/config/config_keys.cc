// The top level of the configuration file and its small sections: timeouts, limits, admin,
// redis, jwt and access_log.

#include "balancer/config/sections.h"

#include <fstream>
#include <sstream>

namespace balancer::config {

namespace {

const Section<TimeoutsConfig>& timeoutsKeys() {
  using T = TimeoutsConfig;
  static const Section<T> keys{"timeouts", "timeouts.", {
      duration("client_header", &T::client_header,
               "first byte of a request to its last header; then 408 and close"),
      duration("client_idle", &T::client_idle, "keep-alive wait between two requests"),
      duration("tunnel_idle", &T::tunnel_idle,
               "an upgraded (WebSocket) connection with no bytes either way"),
      duration("client_write", &T::client_write,
               "a client that leaves its response unread this long is closed"),
  }};
  return keys;
}

const Section<LimitsConfig>& limitsKeys() {
  using T = LimitsConfig;
  static const Section<T> keys{"limits", "limits.", {
      size("max_header_bytes", &T::max_header_bytes, "request line and headers; beyond: 431"),
      count("max_headers", &T::max_headers, 1, 10000, "header fields; beyond: 431"),
      size("max_body_size", &T::max_body_size, "request body; beyond: 413"),
      count("max_connections_per_worker", &T::max_connections_per_worker, 0, 10000000,
            "past it, new connections are closed at once (0: no cap)"),
  }};
  return keys;
}

// A secret read from a file (a Kubernetes Secret, the stack's .run/keys/admin-token), so that
// it is not written in the configuration itself. Surrounding blanks are dropped.
template <typename T>
Key<T> secretFile(const char* name, std::string T::*member, const char* help) {
  return {name, "file", help,
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            auto path = r.readableFile(v, at.label);
            if (!path) {
              return;
            }
            std::ifstream in(*path);
            std::stringstream text;
            text << in.rdbuf();
            std::string token = text.str();
            size_t first = token.find_first_not_of(" \t\r\n");
            size_t last = token.find_last_not_of(" \t\r\n");
            if (first == std::string::npos) {
              r.error(v, at.label + ": '" + *path + "' is empty");
              return;
            }
            out.*member = token.substr(first, last - first + 1);
          },
          nullptr};
}

// admin's keys fill members of Config itself.
const Section<Config>& adminKeys() {
  static const Section<Config> keys{"admin", "admin.", {
      address("address", &Config::admin_address,
              "IP:port of the admin API; none: no admin API. Not loopback: a token is required"),
      text("token", &Config::admin_token,
           "when set, admin requests but GET /health need Authorization: Bearer TOKEN"),
      secretFile<Config>("token_file", &Config::admin_token,
                         "admin.token read from this file (surrounding blanks dropped)"),
      textList("allowed_hosts", &Config::admin_allowed_hosts,
                "Host names the admin API answers besides loopback ones (DNS rebinding)"),
  }};
  return keys;
}

// The older spelling of on_unavailable: true is allow, false is deny.
Key<RedisConfig> failOpen() {
  return {"fail_open", "true|false", "older spelling: true is on_unavailable: allow, false deny",
          [](Reader& r, const YAML::Node& v, const At& at, RedisConfig& out) {
            if (auto b = r.flag(v, at.label)) {
              out.on_unavailable =
                  *b ? RedisConfig::OnUnavailable::kAllow : RedisConfig::OnUnavailable::kDeny;
            }
          },
          nullptr};
}

// IP:port, or host:port: redis::Client looks a name up before each connection, off the loop,
// so a Service name in a cluster follows the Service.
Key<RedisConfig> redisAddress() {
  return {"address", "host:port", "Redis for scope: global rate limits",
          [](Reader& r, const YAML::Node& v, const At& at, RedisConfig& out) {
            auto text = r.scalar(v, at.label);
            if (!text) {
              return;
            }
            if (auto dns = util::parseDnsHostPort(*text)) {
              out.address = *text;
              out.host = dns->host;
              out.port = dns->port;
            } else if (auto a = r.address(v, at.label)) {
              char ip[64];
              util::formatIp(a->get(), ip, sizeof ip);
              out.address = *text;
              out.host = ip;
              out.port = a->port();
            }
          },
          nullptr};
}

const Section<RedisConfig>& redisKeys() {
  using T = RedisConfig;
  using Mode = RedisConfig::OnUnavailable;
  static const Section<T> keys{"redis", "redis.", {
      redisAddress().required("an address"),
      duration("timeout", &T::timeout, "a slower answer counts as Redis unavailable"),
      failOpen(),
      choice("on_unavailable", &T::on_unavailable,
             {{"local", Mode::kLocal}, {"allow", Mode::kAllow}, {"deny", Mode::kDeny}},
             "Redis unavailable: local (this balancer's own limit), allow (none) or deny (503)"),
      text("username", &T::username, "the Redis ACL user to AUTH as (with password_file)"),
      secretFile<T>("password_file", &T::password,
                    "the Redis password (requirepass or the ACL user's), read from this file"),
  }};
  return keys;
}

// claim: Header, in the order written.
Key<JwtConfig> claimsToHeaders() {
  return {"claims_to_headers", "mapping", "{claim: Header} set on forwarded requests",
          [](Reader& r, const YAML::Node& v, const At& at, JwtConfig& out) {
            if (!v.IsMap()) {
              r.error(v, at.label + " must be a mapping");
              return;
            }
            for (const auto& item : v) {
              auto header = r.scalar(item.second, "header name");
              if (header &&
                  (header->empty() || header->find_first_of(" \t:\r\n") != std::string::npos)) {
                r.error(item.second, "invalid header name '" + *header + "'");
              } else if (header) {
                out.claims_to_headers.emplace_back(item.first.Scalar(), *header);
              }
            }
          },
          nullptr};
}

const Section<JwtConfig::Refresh>& jwksRefreshKeys() {
  using T = JwtConfig::Refresh;
  static const Section<T> keys{"jwt.jwks_refresh", "jwt.jwks_refresh.", {
      duration("min", &T::min, "shortest reuse of fetched keys; also spaces unknown-kid refetches",
               Millis{1000}),
      duration("max", &T::max, "longest reuse of fetched keys, whatever max-age says",
               Millis{1000}),
  }};
  return keys;
}

// jwks_refresh: {min, max}, or one duration for both: a fixed period (DESIGN.md's form).
Key<JwtConfig> jwksRefresh() {
  return {"jwks_refresh", "mapping|duration",
          "bounds on the fetched keys' max-age; one duration sets both (a fixed period)",
          [](Reader& r, const YAML::Node& v, const At& at, JwtConfig& out) {
            if (v.IsMap()) {
              jwksRefreshKeys().read(r, v, at.path, out.jwks_refresh);
              return;
            }
            if (auto d = r.duration(v, at.label)) {
              if (*d < Millis{1000}) {
                r.error(v, at.label + " must be at least 1s");
              } else {
                out.jwks_refresh = {*d, *d};
              }
            }
          },
          nullptr, "", [] { return jwksRefreshKeys().declare(); }};
}

const Section<JwtConfig>& jwtKeys() {
  using T = JwtConfig;
  static const Section<T> keys{"jwt", "jwt.", {
      file("jwks_file", &T::jwks_file, "public keys (JWKS); reloaded on SIGHUP"),
      text("jwks_url", &T::jwks_url,
           "public keys fetched from https:// (http:// only to loopback), instead of jwks_file"),
      flag("jwks_insecure_http", &T::jwks_insecure_http,
           "allow an http:// jwks_url to a host that is not loopback (a trusted network only)"),
      file("jwks_ca", &T::jwks_ca, "CA bundle that verifies jwks_url's server (system store)"),
      jwksRefresh(),
      text("issuer", &T::issuer, "required iss").required("issuer"),
      text("audience", &T::audience, "required aud").required("audience"),
      duration("leeway", &T::leeway, "clock skew allowed on exp, nbf, iat"),
      claimsToHeaders(),
  }};
  return keys;
}

// "stdout", or a file relative to the configuration's folder.
Key<AccessLogConfig> accessLogPath() {
  return {"path", "file|stdout", "a file (opened for appending) or stdout",
          [](Reader& r, const YAML::Node& v, const At& at, AccessLogConfig& out) {
            auto path = r.scalar(v, at.label);
            if (path && path->empty()) {
              r.error(v, at.label + " must not be empty");
            } else if (path && *path != "stdout") {
              out.path = r.resolve(*path);
            }
          },
          [](const AccessLogConfig& t) { return t.path; }};
}

const Section<AccessLogConfig>& accessLogKeys() {
  using T = AccessLogConfig;
  static const Section<T> keys{"access_log", "access_log.", {
      accessLogPath(),
      choice<T, std::string>("format", &T::format, {{"json", "json"}},
                             "one JSON object per line"),
      flag("enabled", &T::enabled, "false turns the access log off while keeping the section"),
  }};
  return keys;
}

Key<Config> workers() {
  return {"workers", "1..256|auto", "worker threads, each with its own loop; auto: one per core",
          [](Reader& r, const YAML::Node& v, const At& at, Config& out) {
            if (v.IsScalar() && v.Scalar() == "auto") {
              out.workers = 0;
            } else if (auto n = r.integer(v, at.label, 1, 256, "or auto")) {
              out.workers = static_cast<int>(*n);
            }
          },
          [](const Config& c) {
            return c.workers == 0 ? std::string("auto") : std::to_string(c.workers);
          }};
}

// upstreams: { NAME: {...} }; each upstream's messages name it ("upstream 'app'").
Key<Config> upstreams() {
  return {"upstreams", "mapping", "the groups of backends routes send to, by name",
          [](Reader& r, const YAML::Node& v, const At& at, Config& out) {
            if (!v.IsMap()) {
              r.error(v, at.label + " must be a mapping");
              return;
            }
            for (const auto& item : v) {
              UpstreamConfig u;
              u.name = item.first.Scalar();
              upstreamKeys().read(r, item.second, at.path + "." + u.name, u,
                                  "upstream '" + u.name + "'");
              out.upstreams.push_back(std::move(u));
            }
          },
          nullptr, ".NAME", [] { return upstreamKeys().declare(); }};
}

const Section<CacheZoneConfig>& cacheZoneKeys() {
  using T = CacheZoneConfig;
  static const Section<T> keys{"cache zone", "", {
      size("memory", &T::memory, "bytes the zone's objects may take, all workers together"),
      size("max_object", &T::max_object, "larger responses stream through uncached"),
  }};
  return keys;
}

// cache_zones: { NAME: {...} }; each zone's messages name it ("cache zone 'edge'").
Key<Config> cacheZones() {
  return {"cache_zones", "mapping", "response caches routes store in, by name",
          [](Reader& r, const YAML::Node& v, const At& at, Config& out) {
            if (!v.IsMap()) {
              r.error(v, at.label + " must be a mapping");
              return;
            }
            for (const auto& item : v) {
              CacheZoneConfig zone;
              zone.name = item.first.Scalar();
              cacheZoneKeys().read(r, item.second, at.path + "." + zone.name, zone,
                                   "cache zone '" + zone.name + "'");
              if (zone.memory == 0 || zone.max_object > zone.memory) {
                r.error(item.second, "cache zone '" + zone.name +
                                         "': memory must be positive and at least max_object");
              }
              out.cache_zones.push_back(std::move(zone));
            }
          },
          nullptr, ".NAME", [] { return cacheZoneKeys().declare(); }};
}

// access_log: off unless the section is there, and then off again with enabled: false.
Key<Config> accessLog() {
  Key<Config> key = optionalSection("access_log", &Config::access_log, accessLogKeys,
                                    "the access log; without this section there is none");
  key.read = [read = key.read](Reader& r, const YAML::Node& v, const At& at, Config& out) {
    read(r, v, at, out);
    if (out.access_log && !out.access_log->enabled) {
      out.access_log.reset();
    }
  };
  return key;
}

}  // namespace

const Section<Config>& configKeys() {
  using T = Config;
  static const Section<T> keys{"the configuration", "", {
      workers(),
      duration("shutdown_timeout", &T::shutdown_timeout,
               "how long SIGTERM/SIGINT waits for in-flight requests"),
      section("timeouts", &T::timeouts, timeoutsKeys, "client-side timeouts"),
      section("limits", &T::limits, limitsKeys, "request size limits"),
      listOf("listeners", &T::listeners, listenerKeys, "the addresses to accept clients on")
          .required("listeners"),
      cidrs("trusted_proxies", &T::trusted_proxies,
            "peers whose X-Forwarded-For is believed, read from the right"),
      inlineSection("admin", adminKeys, "the admin API"),
      optionalSection("redis", &T::redis, redisKeys, "Redis, for global rate limits"),
      optionalSection("jwt", &T::jwt, jwtKeys, "how JWTs are checked on auth routes"),
      upstreams(),  // required unless every route is static: validate.cc
      cacheZones(),
      listOf("routes", &T::routes, routeKeys, "which requests go to which upstream")
          .required("routes"),
      accessLog(),
  }};
  return keys;
}

}  // namespace balancer::config
