#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "balancer/cache/cache_control.h"
#include "balancer/cache/cache_key.h"
#include "balancer/cache/fields.h"
#include "balancer/cache/freshness.h"
#include "balancer/cache/growing_body.h"

namespace balancer::cache {

// A stored response: its head (immutable once made) and its body, which may still be
// growing while a miss fills it. Shared as shared_ptr<const CachedObject>: a reader streams
// from an object that the store may evict meanwhile, and the bytes stay until the last reader
// lets go. A 304 revalidation makes a new object with the refreshed head and the same body.
struct CachedObject {
  int status = 200;
  Fields headers;  // as stored: no hop-by-hop fields, no Content-Length
  std::optional<uint64_t> content_length;  // what the origin announced
  ResponseTimes times;
  CacheControl cc;                  // parsed from `headers`
  int64_t lifetime_ms = 0;          // freshness lifetime, computed when stored
  bool heuristic = false;           // the lifetime is a heuristic one
  std::vector<std::string> vary;    // varyNames(headers)
  Key primary;
  Key secondary;
  std::string host;  // for purges by host and path prefix
  std::string path;
  std::string etag;           // validators, for revalidation and conditional requests
  std::string last_modified;
  std::shared_ptr<GrowingBody> body = std::make_shared<GrowingBody>();

  // Bytes charged to the store: the head's strings and the body's chunks.
  size_t bytes() const;
  bool complete() const { return body->state() == GrowingBody::State::kComplete; }

  // The current age and what may be done with it for a request.
  int64_t ageMs(int64_t now_ms) const { return currentAgeMs(times, now_ms); }
  Reuse reuseFor(const CacheControl& request, int64_t now_ms) const {
    return decideReuse(request, cc, lifetime_ms, ageMs(now_ms));
  }
  bool usableOnErrorFor(const CacheControl& request, int64_t now_ms) const {
    return usableOnError(request, cc, lifetime_ms, ageMs(now_ms));
  }

  // The head lines a hit sends (each ending in CRLF): the stored fields, with Age replaced by
  // the current age in whole seconds (RFC 9111 5.1); without the fields `leave_out` names.
  std::string headLines(int64_t now_ms,
                        const std::function<bool(const Field&)>& leave_out = nullptr) const;
};

// Everything a CachedObject's head needs from a response that may be stored.
struct ObjectHead {
  int status = 200;
  Fields headers;
  std::optional<uint64_t> content_length;
  int64_t request_ms = 0;
  int64_t response_ms = 0;
  Key primary;
  Key secondary;
  std::string host;
  std::string path;
};

// Makes an object with an empty, growing body; freshness is computed with `heuristic`.
std::shared_ptr<CachedObject> makeObject(ObjectHead head, const HeuristicPolicy& heuristic);

// The stored response freshened by a 304 (RFC 9111 4.3.4 and 3.2): each field the 304 carries
// replaces the stored ones of that name, except hop-by-hop and Connection-named fields and
// Content-Length; times, directives and lifetime are computed anew from the merged head and
// the revalidation's request and response times. The body is shared, not copied.
std::shared_ptr<CachedObject> freshenedBy304(const CachedObject& stored,
                                             const http::HeaderList& not_modified,
                                             int64_t request_ms, int64_t response_ms,
                                             const HeuristicPolicy& heuristic);

}  // namespace balancer::cache
