#pragma once

#include <string_view>

#include "balancer/cache/cache_control.h"
#include "balancer/cache/fields.h"
#include "balancer/cache/freshness.h"
#include "common/http/header_list.h"

namespace balancer::cache {

// Why a response is not stored (or kStore). Counted and logged, so each reason is its own.
enum class StoreVerdict : uint8_t {
  kStore,
  kMethod,          // not GET
  kStatus,          // not final, partial, 304, or not understood with must-understand
  kNoStore,         // no-store in the request or the response
  kPrivate,         // unqualified private: a shared cache never stores it
  kAuthorization,   // the request had Authorization and the response did not allow sharing
  kNoFreshness,     // no explicit freshness, status not heuristically cacheable, not public
  kSetCookie,       // the route does not store responses that set cookies
  kVaryStar,        // Vary: * never matches a later request
};

std::string_view storeVerdictName(StoreVerdict verdict);

struct StoreOptions {
  bool store_set_cookie = false;  // the route's opt-in
  HeuristicPolicy heuristic;      // default_ttl makes more responses storable
};

// Whether a shared cache may store a response (RFC 9111 3 and 3.5). The method is the
// request's; GET only (a HEAD is answered from a stored GET, never stored itself).
StoreVerdict mayStore(std::string_view method, const http::HeaderList& request,
                      const CacheControl& request_cc, int status,
                      const http::HeaderList& response, const CacheControl& response_cc,
                      const StoreOptions& options);

// Status codes whose caching requirements this cache implements (for must-understand).
bool statusUnderstood(int status);

// The response's header fields as they are stored (RFC 9111 3.1): without hop-by-hop fields
// and those the Connection field names, and without the fields a no-cache="..." or
// private="..." directive names (a shared cache must not send them without revalidation:
// dropping them is the simple way).
Fields storedFields(const http::HeaderList& response, const CacheControl& response_cc);

}  // namespace balancer::cache
