#pragma once

#include <cstdint>
#include <optional>

#include "balancer/cache/cache_control.h"
#include "balancer/cache/fields.h"

namespace balancer::cache {

// What RFC 9111 4.2 computes freshness and age from, read once from a stored response. Local
// clock times are in milliseconds (Unix epoch); header dates have whole seconds.
struct ResponseTimes {
  int64_t request_ms = 0;   // when the request was sent (or began, for a cache: close enough)
  int64_t response_ms = 0;  // when the response head arrived
  std::optional<int64_t> date_s;           // a valid Date
  int64_t age_s = 0;                       // a valid Age (0 when absent or invalid)
  bool has_expires = false;
  std::optional<int64_t> expires_s;        // none with has_expires: invalid, so already past
  std::optional<int64_t> last_modified_s;  // a valid Last-Modified
};

ResponseTimes readResponseTimes(const Fields& response_headers, int64_t request_ms,
                                int64_t response_ms);

// Per route: how a response without explicit freshness is given some.
struct HeuristicPolicy {
  // RFC 9111 4.2.2's "typical setting": 10% of the time since Last-Modified...
  double last_modified_fraction = 0.1;
  // ...capped (the RFC's example is one day; caches commonly use that).
  int64_t cap_s = 86400;
  // The route's `default_ttl`: the lifetime given when there is no Last-Modified (0: none).
  int64_t default_ttl_s = 0;
};

// Status codes defined as heuristically cacheable (RFC 9110 15.1).
bool heuristicallyCacheable(int status);

// The response carries freshness of its own: s-maxage, max-age or Expires (even an invalid
// one, which makes it already expired).
bool hasExplicitFreshness(const CacheControl& cc, const ResponseTimes& times);

// The freshness lifetime in ms (RFC 9111 4.2.1), for a shared cache: s-maxage, else max-age,
// else Expires - Date; an invalid or conflicting value counts as 0 (stale). Only without any
// of them, and only for a heuristically cacheable status or a `public` response, a heuristic
// (4.2.2). `heuristic` (may be null) is set when the heuristic was used.
int64_t freshnessLifetimeMs(int status, const CacheControl& cc, const ResponseTimes& times,
                            const HeuristicPolicy& policy, bool* heuristic = nullptr);

// The current age in ms (RFC 9111 4.2.3): the corrected initial age (the larger of the apparent
// age and Age plus the response delay) plus the time the response has been stored.
int64_t currentAgeMs(const ResponseTimes& times, int64_t now_ms);

// What a cache may do with a stored response for a request (RFC 9111 4 and 5.2).
enum class Reuse : uint8_t {
  kFresh,                 // serve it
  kStale,                 // serve it stale: the client allowed it (max-stale)
  kStaleWhileRevalidate,  // serve it stale and refresh it in the background (RFC 5861)
  kValidate,              // ask the origin (conditionally, with its validators) first
};

// Decides reuse from the request's and the stored response's directives. A response with
// must-revalidate, proxy-revalidate or s-maxage (a shared cache) is never served stale; an
// unqualified no-cache on either side, a request max-age the age exceeds or a min-fresh the
// remaining freshness does not meet ask the origin.
Reuse decideReuse(const CacheControl& request, const CacheControl& response, int64_t lifetime_ms,
                  int64_t age_ms);

// Whether the stored response may be served because the origin failed (a 5xx, a refused
// connection, a timeout): fresh, or stale within the response's or the request's
// stale-if-error (RFC 5861 4), unless stale serving is forbidden.
bool usableOnError(const CacheControl& request, const CacheControl& response,
                   int64_t lifetime_ms, int64_t age_ms);

// A request with only-if-cached that the cache cannot answer from storage gets this status
// (RFC 9111 5.2.1.7).
constexpr int kOnlyIfCachedStatus = 504;

}  // namespace balancer::cache
