#pragma once

// The configuration as structs, with each value's default as its member initializer: the one
// place a default is written (balancer/config/*_keys.cc declare the keys and read them into
// these members; declared_keys.h prints the defaults from a default-constructed struct).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/compress/encoding.h"
#include "common/util/address.h"
#include "common/util/cidr.h"
#include "common/util/units.h"

namespace balancer {

using util::Millis;

enum class BalanceKind { kRoundRobin, kLeastConn, kP2C };
enum class AuthMode { kNone, kJwt, kJwtOptional };

struct BackendConfig {
  util::SocketAddress address;
  int weight = 1;
};

// A backend entry that names a host ("product.shop.svc.cluster.local:7101"): its addresses
// are looked up again every upstream's dns_refresh, and each one is a backend with this
// weight (as Envoy's STRICT_DNS clusters; Kubernetes headless Services answer with the ready
// pods' IPs).
struct DnsBackendConfig {
  std::string host;
  int port = 0;
  int weight = 1;
  std::string text;  // "host:port", as written
};

struct HealthCheckConfig {
  std::string path = "/health";
  Millis interval{2000};
  Millis timeout{1000};
  int healthy_threshold = 2;
  int unhealthy_threshold = 3;
};

// Passive health checking: a backend that fails `consecutive_failures` times in a row (5xx
// from the backend, or a connect failure) is ejected for base * 2^(n-1), capped at max, n
// counting its recent ejections; at most max_ejection_percent of an upstream's backends are
// ejected at once (at least one may always be).
struct OutlierConfig {
  int consecutive_failures = 5;
  Millis base_ejection_time{10000};
  Millis max_ejection_time{300000};
  int max_ejection_percent = 50;
};

struct PoolConfig {
  // Idle keep-alive connections kept per backend, per worker. Unset (`auto`, the default):
  // as many as the recent peak of concurrent requests to that backend, so a load of 1,000
  // connections does not churn through a fixed cap; a fixed number is a hard cap.
  std::optional<size_t> max_idle;
  Millis idle_timeout{60000};
};

struct UpstreamConfig {
  std::string name;
  BalanceKind balance = BalanceKind::kRoundRobin;
  std::vector<BackendConfig> backends;
  std::vector<DnsBackendConfig> dns_backends;
  Millis dns_refresh{5000};
  std::optional<HealthCheckConfig> health_check;
  Millis connect_timeout{1000};
  Millis request_timeout{30000};
  Millis read_timeout{30000};  // longest gap between two reads of a response, once it began
  int retries = 1;
  PoolConfig pool;
  std::optional<OutlierConfig> outlier_detection;  // off unless configured
  Millis slow_start{0};  // ramp a returning or added backend's weight over this; 0: off
};

struct RateLimitConfig {
  enum class Key { kIp, kUser, kRoute };
  enum class Scope { kLocal, kGlobal };
  double rate = 0;  // tokens per second
  double burst = 1;
  Key key = Key::kIp;
  Scope scope = Scope::kLocal;
  // key: ip groups IPv6 clients by this prefix: one host holds a /64 and could rotate
  // through it, a bucket per address would never fill.
  int ipv6_prefix = 64;
};

struct RedisConfig {
  // What a global limit does while Redis cannot answer (down, slower than `timeout`, its
  // queue full): kLocal applies the route's limit in this balancer alone, kAllow serves
  // everyone (no limit: brute force is free), kDeny answers 503.
  enum class OnUnavailable { kLocal, kAllow, kDeny };
  std::string address;  // as written: "10.0.0.5:6379" or "redis.shop.svc:6379"
  std::string host;     // an IP, or a name looked up before each connection (redis::Client)
  int port = 0;
  Millis timeout{50};  // a global limit check slower than this: Redis is unavailable
  OnUnavailable on_unavailable = OnUnavailable::kLocal;
  std::string username;  // an ACL user; empty: `default`
  std::string password;  // from password_file; empty: no AUTH
};

// Cross-origin requests a route allows (the Fetch standard's CORS protocol).
struct CorsConfig {
  std::vector<std::string> origins;  // exact "https://shop.test", or "*" for any
  std::vector<std::string> methods{"GET", "HEAD", "POST"};
  std::vector<std::string> headers;  // request headers a page may send
  std::vector<std::string> expose;   // response headers a page may read
  Millis max_age{0};                 // how long a browser keeps a preflight; 0: not said
  bool credentials = false;          // cookies and Authorization may come along
};

// A route's `cache:` (RFC 9111 shared cache, in a zone of `cache_zones`).
struct RouteCacheConfig {
  std::string zone;
  std::vector<std::string> key_headers;   // request header values that split the key
  std::vector<std::string> key_cookies;   // cookie values that split the key
  std::vector<std::string> ignore_query;  // query parameters left out of the key
  Millis default_ttl{0};  // freshness for responses without any (where a heuristic may apply)
  bool store_set_cookie = false;  // store responses that set cookies
};

// `cache_zones: NAME: {...}`: one store shared by every worker and every route naming it.
struct CacheZoneConfig {
  std::string name;
  uint64_t memory = uint64_t{256} << 20;
  uint64_t max_object = uint64_t{8} << 20;
};

// A route that serves files from a folder instead of sending to an upstream.
struct StaticFilesConfig {
  std::string root;                  // resolved: relative to the config's folder
  std::string index = "index.html";  // what a directory's URL (ending in '/') serves
};

// A route's compress: responses of `types` at least `min_size` long (or of unknown length)
// are compressed with the first of `encodings` the client accepts best.
struct CompressConfig {
  std::vector<compression::Encoding> encodings = {compression::Encoding::kZstd,
                                               compression::Encoding::kBrotli,
                                               compression::Encoding::kGzip};
  uint64_t min_size = 1024;
  // "type/subtype", "type/*", or "+suffix" (any type/x+suffix); case-insensitive.
  std::vector<std::string> types = {"text/*",          "application/json",
                                    "application/javascript", "application/xml",
                                    "image/svg+xml",   "+json",
                                    "+xml"};
  struct Levels {
    int gzip = compression::defaultLevel(compression::Encoding::kGzip);
    int br = compression::defaultLevel(compression::Encoding::kBrotli);
    int zstd = compression::defaultLevel(compression::Encoding::kZstd);
  } level;
  int levelOf(compression::Encoding encoding) const {
    switch (encoding) {
      case compression::Encoding::kGzip:
        return level.gzip;
      case compression::Encoding::kBrotli:
        return level.br;
      case compression::Encoding::kZstd:
        return level.zstd;
    }
    return 1;
  }
};

struct RouteConfig {
  std::string host;         // empty: any host; "*.example.com" matches subdomains
  std::string path;         // exact path
  std::string path_prefix;  // segment-aware prefix
  std::vector<std::string> methods;  // empty: any method
  std::string upstream;  // empty for a static route
  std::optional<StaticFilesConfig> static_files;  // instead of an upstream
  std::string strip_prefix;
  AuthMode auth = AuthMode::kNone;
  std::vector<std::string> require_roles;
  std::optional<uint64_t> max_body_size;  // tighter than limits.max_body_size for this route
  std::optional<RateLimitConfig> rate_limit;
  std::vector<util::Cidr> allow;  // only these clients (empty: any); then deny
  std::vector<util::Cidr> deny;   // never these clients
  std::optional<CorsConfig> cors;
  std::optional<RouteCacheConfig> cache;
  std::optional<CompressConfig> compress;
};

struct TlsCertificateConfig {
  std::string cert;  // paths as resolved: relative ones are taken from the config's folder
  std::string key;
};

struct TlsConfig {
  std::vector<TlsCertificateConfig> certificates;  // chosen by SNI; the first is the default
  std::string min_version = "1.2";                 // "1.2" or "1.3"
  std::string ciphers;                             // TLS 1.2 list; empty: OpenSSL's default
  std::string ciphersuites;                        // TLS 1.3 suites; empty: OpenSSL's default
};

struct ListenerConfig {
  std::string name;
  util::SocketAddress address;
  std::optional<TlsConfig> tls;
  bool redirect_to_https = false;  // answer every request with 308 to the TLS listener
  bool access_log = true;  // false: requests on this listener are not logged
  // Every connection starts with a PROXY protocol header (v1 or v2), whose source address is
  // the client's; a connection without one is closed.
  bool proxy_protocol = false;
};

// The access log: one JSON line per request, written in batches off the request path.
struct AccessLogConfig {
  std::string path = "stdout";  // a file (relative: to the config's folder) or "stdout"
  std::string format = "json";  // the only format so far
  bool enabled = true;          // false: the section is kept but there is no access log
};

struct TimeoutsConfig {
  Millis client_header{10000};  // from the first byte of a request to its last header
  Millis client_idle{60000};    // keep-alive wait between requests
  Millis tunnel_idle{3600000};  // an upgraded connection with no bytes either way
  Millis client_write{60000};   // a client that leaves a response unread this long is closed
};

struct LimitsConfig {
  size_t max_header_bytes = 32 * 1024;
  size_t max_headers = 100;
  uint64_t max_body_size = 100ull * 1024 * 1024;
  size_t max_connections_per_worker = 0;  // 0: no cap beyond the file descriptor limit
};

struct JwtConfig {
  std::string jwks_file;  // resolved path; reloaded on SIGHUP. Empty with jwks_url.
  // Keys fetched over HTTPS (balancer/jwks) instead of a file; http:// only to loopback.
  std::string jwks_url;
  bool jwks_insecure_http = false;  // http:// jwks_url to a host that is not loopback
  std::string jwks_ca;  // resolved path of the CA bundle for jwks_url; empty: system store
  // How long a fetched key set is used before the next fetch: the response's max-age
  // clamped to [min, max]; `min` also spaces refetches for an unknown kid.
  struct Refresh {
    Millis min{30000};
    Millis max{3600000};
  } jwks_refresh;
  std::string issuer;
  std::string audience;
  Millis leeway{30000};
  // claim -> header set on the forwarded request (client-sent copies are always removed)
  std::vector<std::pair<std::string, std::string>> claims_to_headers;
};

struct Config {
  int workers = 0;  // 0: one per core
  Millis shutdown_timeout{10000};
  TimeoutsConfig timeouts;
  LimitsConfig limits;
  std::vector<ListenerConfig> listeners;
  // Peers (after the PROXY protocol) whose X-Forwarded-For is believed: read from the right,
  // its first address not in these networks is the client.
  std::vector<util::Cidr> trusted_proxies;
  std::optional<util::SocketAddress> admin_address;
  std::string admin_token;  // empty: the admin API asks for no bearer token
  // Hosts (lower case, without port) the admin API answers besides loopback ones: a
  // browser led to it by DNS rebinding names a host that is not on this list.
  std::vector<std::string> admin_allowed_hosts;
  std::optional<JwtConfig> jwt;
  std::optional<RedisConfig> redis;
  std::optional<AccessLogConfig> access_log;  // off unless configured (and enabled)
  std::vector<UpstreamConfig> upstreams;
  std::vector<CacheZoneConfig> cache_zones;
  std::vector<RouteConfig> routes;

  const UpstreamConfig* findUpstream(const std::string& name) const;
};

struct ConfigError {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string message;
};

struct ConfigResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

// Loads and validates a configuration, collecting every error rather than stopping at the
// first (sorted by their place in the file). Never throws.
ConfigResult loadConfigFile(const std::string& path);
ConfigResult loadConfigString(const std::string& yaml);

// "FILE:LINE:COLUMN: message", the format of `balancer -t`.
std::string formatConfigError(const std::string& file, const ConfigError& error);

}  // namespace balancer
