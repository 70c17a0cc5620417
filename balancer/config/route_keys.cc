// routes[]: which requests go to which upstream, and what is checked on the way.

#include "balancer/config/sections.h"

#include "balancer/rate_limit/rate.h"

#include <sys/stat.h>

#include <algorithm>

namespace balancer::config {

namespace {

// A method as the request line spells it: upper-case letters.
bool isMethod(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

Key<RouteConfig> host() {
  return {"host", "host", "the Host to match; *.example.com matches subdomains; none: any",
          [](Reader& r, const YAML::Node& v, const At& at, RouteConfig& out) {
            if (auto s = r.scalar(v, at.label)) {
              out.host = *s;
              std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                             [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            }
          },
          nullptr};
}

Key<RouteConfig> methods() {
  return {"methods", "list", "the methods to match; none: any",
          [](Reader& r, const YAML::Node& v, const At& at, RouteConfig& out) {
            out.methods = r.stringList(v, at.label);
            for (const auto& method : out.methods) {
              if (!isMethod(method)) {
                r.error(v, "invalid method '" + method + "' (use upper case, e.g. GET)");
              }
            }
          },
          nullptr};
}

// match's keys fill members of the route.
const Section<RouteConfig>& matchKeys() {
  using T = RouteConfig;
  static const Section<T> keys{"match", "match.", {
      host(),
      urlPath("path", &T::path, "the exact path"),
      urlPath("path_prefix", &T::path_prefix, "a path prefix, segment by segment"),
      methods(),
  }};
  return keys;
}

// The rate; the burst defaults to it (a second's worth), so the burst key comes after it.
Key<RateLimitConfig> rate() {
  return {"rate", "N/s|N/m|N/h", "tokens per second, minute or hour",
          [](Reader& r, const YAML::Node& v, const At& at, RateLimitConfig& out) {
            auto text = r.scalar(v, at.label);
            if (!text) {
              return;
            }
            std::string message;
            if (auto rate = rate_limit::parseRate(*text, &message)) {
              out.rate = *rate;
              out.burst = std::max(out.rate, 1.0);
            } else {
              r.error(v, at.label + ": " + message);
            }
          },
          nullptr};
}

const Section<RateLimitConfig>& rateLimitKeys() {
  using T = RateLimitConfig;
  using By = RateLimitConfig::Key;
  using Scope = RateLimitConfig::Scope;
  static const Section<T> keys{"rate_limit", "rate_limit.", {
      rate().required("a rate (e.g. 100/s)"),
      count("burst", &T::burst, 1, 100000000, "requests allowed at once").shownAs("the rate"),
      choice("key", &T::key, {{"ip", By::kIp}, {"user", By::kUser}, {"route", By::kRoute}},
             "what one bucket counts: the client address, the token's sub, or the route"),
      choice("scope", &T::scope, {{"local", Scope::kLocal}, {"global", Scope::kGlobal}},
             "local: this balancer's workers share it; global: in Redis"),
      count("ipv6_prefix", &T::ipv6_prefix, 1, 128,
            "key: ip counts IPv6 clients per network of this length (a host holds a /64)"),
  }};
  return keys;
}

// A folder that must exist when the configuration is loaded; relative to its folder.
Key<StaticFilesConfig> root() {
  return {"root", "folder", "the folder files are served from (relative: to this file's)",
          [](Reader& r, const YAML::Node& v, const At& at, StaticFilesConfig& out) {
            auto text = r.scalar(v, at.label);
            if (!text) {
              return;
            }
            std::string path = r.resolve(*text);
            struct stat st {};
            if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
              r.error(v, at.label + ": '" + path + "' is not a folder");
              return;
            }
            out.root = path;
          },
          nullptr};
}

Key<CorsConfig> corsMethods() {
  return {"methods", "list", "methods a page may use (GET, HEAD, POST by default)",
          [](Reader& r, const YAML::Node& v, const At& at, CorsConfig& out) {
            out.methods = r.stringList(v, at.label);
            for (const auto& method : out.methods) {
              if (!isMethod(method)) {
                r.error(v, "invalid method '" + method + "' (use upper case, e.g. PUT)");
              }
            }
          },
          nullptr};
}

const Section<CorsConfig>& corsKeys() {
  using T = CorsConfig;
  static const Section<T> keys{"cors", "cors.", {
      textList("origins", &T::origins,
               "origins allowed, exactly as browsers send them (https://shop.test), or *")
          .required("origins"),
      corsMethods(),
      textList("headers", &T::headers, "request headers a page may send (preflight)"),
      textList("expose", &T::expose, "response headers a page may read"),
      duration("max_age", &T::max_age, "how long a browser may keep a preflight's answer"),
      flag("credentials", &T::credentials, "cookies and Authorization may come along"),
  }};
  return keys;
}

const Section<RouteCacheConfig>& cacheKeys() {
  using T = RouteCacheConfig;
  static const Section<T> keys{"cache", "cache.", {
      text("zone", &T::zone, "the cache zone's name").required("a zone"),
      textList("key_headers", &T::key_headers, "request headers whose values split the key"),
      textList("key_cookies", &T::key_cookies, "cookies whose values split the key"),
      textList("ignore_query", &T::ignore_query, "query parameters left out of the key"),
      duration("default_ttl", &T::default_ttl,
               "freshness for responses that give none, where a heuristic is allowed"),
      flag("store_set_cookie", &T::store_set_cookie, "store responses that set cookies"),
  }};
  return keys;
}

// A file name, not a path: it is looked up in the folder the URL names.
Key<StaticFilesConfig> index() {
  return {"index", "file name", "served for a URL that names a folder (ending in '/')",
          [](Reader& r, const YAML::Node& v, const At& at, StaticFilesConfig& out) {
            auto text = r.scalar(v, at.label);
            if (!text) {
              return;
            }
            if (text->empty() || *text == "." || *text == ".." ||
                text->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
              r.error(v, at.label + " must be a file name, without '/'");
              return;
            }
            out.index = *text;
          },
          [](const StaticFilesConfig& d) { return d.index; }};
}

const Section<StaticFilesConfig>& staticKeys() {
  static const Section<StaticFilesConfig> keys{"static", "static.", {
      root().required("a root"),
      index(),
  }};
  return keys;
}

// The codings a route offers, in its order of preference (ties in Accept-Encoding go to the
// first): each known, none twice.
Key<CompressConfig> encodings() {
  return {"encodings", "list", "zstd, br, gzip: the codings offered, preferred first",
          [](Reader& r, const YAML::Node& v, const At& at, CompressConfig& out) {
            if (!v.IsSequence() || v.size() == 0) {
              r.error(v, at.label + " must be a list of zstd, br or gzip");
              return;
            }
            out.encodings.clear();
            for (const auto& item : v) {
              auto name = r.scalar(item, at.label + " item");
              if (!name) {
                continue;
              }
              auto encoding = compression::parseEncoding(*name);
              if (!encoding || compression::encodingName(*encoding) != *name) {
                r.error(item, "unknown encoding '" + *name + "' in " + at.label +
                                  " (use zstd, br or gzip)");
              } else if (std::find(out.encodings.begin(), out.encodings.end(), *encoding) !=
                         out.encodings.end()) {
                r.error(item, "duplicate encoding '" + *name + "' in " + at.label);
              } else {
                out.encodings.push_back(*encoding);
              }
            }
          },
          [](const CompressConfig& c) {
            std::string text = "[";
            for (auto encoding : c.encodings) {
              text += (text.size() > 1 ? ", " : "") + std::string(compression::encodingName(encoding));
            }
            return text + "]";
          }};
}

// Media types: "type/subtype", "type/*" or "+suffix".
Key<CompressConfig> types() {
  return {"types", "list", "media types compressed: type/subtype, type/* or +suffix",
          [](Reader& r, const YAML::Node& v, const At& at, CompressConfig& out) {
            if (!v.IsSequence()) {
              r.error(v, at.label + " must be a list");
              return;
            }
            out.types.clear();
            for (const auto& item : v) {
              auto type = r.scalar(item, at.label + " item");
              if (!type) {
                continue;
              }
              size_t slash = type->find('/');
              bool suffix = type->size() > 1 && type->front() == '+' &&
                            slash == std::string::npos;
              bool media = slash != std::string::npos && slash > 0 && slash + 1 < type->size() &&
                           type->find('/', slash + 1) == std::string::npos &&
                           type->find_first_of(" ;,") == std::string::npos;
              if (!suffix && !media) {
                r.error(item, "invalid media type '" + *type + "' in " + at.label +
                                  " (use type/subtype, type/* or +suffix)");
                continue;
              }
              std::string lower = *type;
              std::transform(lower.begin(), lower.end(), lower.begin(),
                             [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
              out.types.push_back(std::move(lower));
            }
          },
          [](const CompressConfig& c) {
            std::string text = "[";
            for (const auto& type : c.types) {
              text += (text.size() > 1 ? ", " : "") + type;
            }
            return text + "]";
          }};
}

template <compression::Encoding E>
Key<CompressConfig::Levels> level(int CompressConfig::Levels::*member) {
  return count(std::string(compression::encodingName(E)), member, compression::minLevel(E),
               compression::maxLevel(E), "the level (capped so that a worker keeps up)");
}

const Section<CompressConfig::Levels>& levelKeys() {
  using T = CompressConfig::Levels;
  using compression::Encoding;
  static const Section<T> keys{"compress.level", "compress.level.", {
      level<Encoding::kGzip>(&T::gzip),
      level<Encoding::kBrotli>(&T::br),
      level<Encoding::kZstd>(&T::zstd),
  }};
  return keys;
}

const Section<CompressConfig>& compressKeys() {
  using T = CompressConfig;
  static const Section<T> keys{"compress", "compress.", {
      encodings(),
      size("min_size", &T::min_size, "a response known to be shorter goes as it is"),
      types(),
      section("level", &T::level, levelKeys, "each coding's level"),
  }};
  return keys;
}

}  // namespace

const Section<RouteConfig>& routeKeys() {
  using T = RouteConfig;
  static const Section<T> keys{"route", "", {
      inlineSection("match", matchKeys, "path or path_prefix, optional host and methods")
          .required("a match"),
      text("upstream", &T::upstream, "the upstream's name"),
      optionalSection("static", &T::static_files, staticKeys,
                      "serve files from a folder instead of an upstream"),
      urlPath("strip_prefix", &T::strip_prefix, "removed from the path before forwarding"),
      choice("auth", &T::auth,
             {{"none", AuthMode::kNone}, {"jwt", AuthMode::kJwt},
              {"jwt_optional", AuthMode::kJwtOptional}},
             "jwt: a valid token is required; jwt_optional: anonymous requests pass"),
      textList("require_roles", &T::require_roles, "the token's roles must hold one of these"),
      optionalSection("rate_limit", &T::rate_limit, rateLimitKeys, "requests per client"),
      size("max_body_size", &T::max_body_size, "a tighter body limit for this route"),
      cidrs("allow", &T::allow, "only clients in these networks (403 for others)"),
      cidrs("deny", &T::deny, "never clients in these networks (403); checked before allow"),
      optionalSection("cors", &T::cors, corsKeys, "cross-origin requests from web pages"),
      optionalSection("cache", &T::cache, cacheKeys, "responses cached in a zone"),
      optionalSection("compress", &T::compress, compressKeys,
                      "compress responses the client accepts compressed"),
  }};
  return keys;
}

}  // namespace balancer::config
