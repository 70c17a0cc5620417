#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/cache/fields.h"
#include "common/http/header_list.h"

namespace balancer::cache {

// A delta-seconds argument (RFC 9111 1.2.2): absent, a number of seconds, or present but not
// a valid non-negative integer. A number past 2^31 is taken as 2^31, as the RFC says.
struct DeltaSeconds {
  bool present = false;
  bool valid = false;
  int64_t seconds = 0;

  bool usable() const { return present && valid; }
};

// The Cache-Control directives of one message (RFC 9111 5.2), request and response ones in one
// struct: a request uses the request directives, a response the response ones. Names are
// case-insensitive; arguments may be tokens or quoted strings. For a directive sent twice with
// different arguments the first counts and the message is marked `conflicting` (RFC 9111
// 4.2.1: "either the first occurrence should be used or the response should be considered
// stale": a cache takes the conservative branch and treats such a response as stale).
struct CacheControl {
  // Both
  bool no_cache = false;  // unqualified: the response needs validation before every reuse
  bool no_store = false;
  bool no_transform = false;
  DeltaSeconds max_age;
  // Response
  std::vector<std::string> no_cache_fields;  // no-cache="a, b" (lowercase names)
  bool is_private = false;                   // unqualified private: no shared cache stores it
  std::vector<std::string> private_fields;   // private="a" (lowercase names)
  bool is_public = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool must_understand = false;
  bool immutable = false;
  DeltaSeconds s_maxage;
  DeltaSeconds stale_while_revalidate;
  DeltaSeconds stale_if_error;
  // Request
  bool max_stale = false;    // max-stale with or without an argument
  DeltaSeconds max_stale_limit;  // absent: any staleness is accepted
  DeltaSeconds min_fresh;
  bool only_if_cached = false;

  bool conflicting = false;  // a duplicate directive with another argument
  bool present = false;      // the message had a Cache-Control field at all
  bool targeted = false;     // read from CDN-Cache-Control: Expires does not count either
};

// Parses a (combined) Cache-Control value.
CacheControl parseCacheControl(std::string_view value);

// The request's directives: Cache-Control, or Pragma: no-cache when there is no Cache-Control
// (RFC 9111 5.4: Pragma only counts for requests without Cache-Control).
CacheControl requestCacheControl(const http::HeaderList& headers);
// The directives this cache follows for a response: a valid, non-empty CDN-Cache-Control
// (RFC 9213: this cache is the edge a CDN would be) replaces Cache-Control and Expires, else
// Cache-Control.
CacheControl responseCacheControl(const http::HeaderList& headers);
CacheControl responseCacheControl(const Fields& headers);

// A targeted field's value (RFC 9213 2.1) as directives: a Structured Field Dictionary whose
// delta directives are Integers, whose no-cache/private are true or a String of field names.
// Nothing when it is not one, or empty: the field is then ignored.
std::optional<CacheControl> parseTargetedCacheControl(std::string_view value);

}  // namespace balancer::cache
