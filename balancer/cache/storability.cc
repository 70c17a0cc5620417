#include "balancer/cache/storability.h"

#include <algorithm>

namespace balancer::cache {

namespace {

bool named(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return http::equalsIgnoreCase(n, name); });
}

}  // namespace

std::string_view storeVerdictName(StoreVerdict verdict) {
  switch (verdict) {
    case StoreVerdict::kStore:
      return "store";
    case StoreVerdict::kMethod:
      return "method";
    case StoreVerdict::kStatus:
      return "status";
    case StoreVerdict::kNoStore:
      return "no-store";
    case StoreVerdict::kPrivate:
      return "private";
    case StoreVerdict::kAuthorization:
      return "authorization";
    case StoreVerdict::kNoFreshness:
      return "no-freshness";
    case StoreVerdict::kSetCookie:
      return "set-cookie";
    case StoreVerdict::kVaryStar:
      return "vary-star";
  }
  return "?";
}

bool statusUnderstood(int status) {
  switch (status) {
    case 200: case 203: case 204: case 300: case 301: case 302: case 303: case 307: case 308:
    case 400: case 403: case 404: case 405: case 410: case 414: case 451:
    case 500: case 501: case 502: case 503: case 504:
      return true;
    default:
      return false;
  }
}

StoreVerdict mayStore(std::string_view method, const http::HeaderList& request,
                      const CacheControl& request_cc, int status,
                      const http::HeaderList& response, const CacheControl& response_cc,
                      const StoreOptions& options) {
  if (method != "GET") {
    return StoreVerdict::kMethod;
  }
  // Final statuses only; a 206 is a part (we store whole bodies and serve ranges from them),
  // a 304 only updates what is stored.
  if (status < 200 || status > 599 || status == 206 || status == 304) {
    return StoreVerdict::kStatus;
  }
  if (response_cc.must_understand) {
    // Only for a status whose requirements we implement; then no-store (sent alongside for
    // caches that do not know must-understand) is ignored (RFC 9111 5.2.2.3).
    if (!statusUnderstood(status)) {
      return StoreVerdict::kStatus;
    }
  } else if (response_cc.no_store) {
    return StoreVerdict::kNoStore;
  }
  if (request_cc.no_store) {
    return StoreVerdict::kNoStore;
  }
  if (response_cc.is_private) {
    return StoreVerdict::kPrivate;
  }
  bool authorization = false;
  request.find("authorization", &authorization);
  if (authorization && !response_cc.is_public && !response_cc.must_revalidate &&
      !response_cc.s_maxage.present) {
    return StoreVerdict::kAuthorization;
  }
  bool has_expires = false;
  response.find("expires", &has_expires);
  const bool explicit_freshness =
      response_cc.s_maxage.present || response_cc.max_age.present ||
      (has_expires && !response_cc.targeted);
  if (!explicit_freshness && !response_cc.is_public && !heuristicallyCacheable(status)) {
    return StoreVerdict::kNoFreshness;
  }
  bool set_cookie = false;
  response.find("set-cookie", &set_cookie);
  if (set_cookie && !options.store_set_cookie) {
    return StoreVerdict::kSetCookie;
  }
  const std::string vary = combinedValue(response, "vary");  // the views below point into it
  for (std::string_view member : splitList(vary)) {
    if (member == "*") {
      return StoreVerdict::kVaryStar;
    }
  }
  return StoreVerdict::kStore;
}

Fields storedFields(const http::HeaderList& response, const CacheControl& response_cc) {
  std::vector<std::string> connection_named;
  for (size_t i = 0; i < response.size(); ++i) {
    if (response.kind(i) == http::HeaderKind::kConnection) {
      for (std::string_view name : splitList(response.value(i))) {
        connection_named.push_back(toLower(name));
      }
    }
  }
  Fields fields;
  fields.reserve(response.size());
  for (size_t i = 0; i < response.size(); ++i) {
    http::HeaderKind kind = response.kind(i);
    std::string_view name = response.name(i);
    // Proxy-Authentication-Info answers the proxy's own authentication (RFC 9110 11.6.5).
    // X-Cache: every answer from the store says what the balancer's cache did; an upstream's
    // own (a service's cache) would contradict it.
    if (http::isHopByHop(kind) || kind == http::HeaderKind::kContentLength ||
        http::equalsIgnoreCase(name, "proxy-authentication-info") ||
        http::equalsIgnoreCase(name, "x-cache") ||
        named(connection_named, name) || named(response_cc.no_cache_fields, name) ||
        named(response_cc.private_fields, name)) {
      continue;
    }
    fields.push_back({std::string(name), std::string(response.value(i))});
  }
  return fields;
}

}  // namespace balancer::cache
