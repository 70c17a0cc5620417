#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/conditional.h"

namespace http {

// Range requests (RFC 9110 section 14) against a representation of known length.

// Bytes first..last of the representation, both included.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
};

// The bytes `ranges` cover, counted once each (they are disjoint).
inline uint64_t totalLength(const std::vector<ByteRange>& ranges) {
  uint64_t total = 0;
  for (const ByteRange& r : ranges) {
    total += r.length();
  }
  return total;
}

struct RangeDecision {
  enum class Kind {
    kFull,           // 200 with the whole representation: no Range, or one we ignore
    kPartial,        // 206 with `range`
    kUnsatisfiable,  // 416
  };
  Kind kind = Kind::kFull;
  ByteRange range;

  int status() const;
  // The Content-Range value of a 206 ("bytes 0-99/1234") or a 416 ("bytes */1234"); empty
  // for a 200.
  std::string contentRange(uint64_t length) const;
};

// Decides what a GET with the Range field value `field` gets for a representation of
// `length` bytes:
// - a field that is not a valid "bytes=" ranges-specifier (another unit, a last-pos before
//   its first-pos, junk) is ignored: 200, as section 14.2 allows;
// - no satisfiable range-spec (every first-pos at or past the end, a suffix of 0): 416;
// - the satisfiable range-specs, merged where they overlap or touch, make one range: 206
//   with it (last-pos past the end is clipped; "-N" is the last N bytes);
// - they make several disjoint ranges: 200 with the whole representation. A server may
//   ignore Range (section 14.2); multipart/byteranges is not produced, which also closes the
//   door on many-small-ranges amplification.
// A representation of length 0 has no satisfiable range but gets 200, not 416 (there is
// nothing to send either way, and a 200 keeps empty files simple).
// `disjoint`, when given, receives those several ranges (sorted, merged where they overlap or
// touch) for a caller that sends multipart/byteranges (the cache, from a stored body).
RangeDecision evaluateRange(std::string_view field, uint64_t length,
                            std::vector<ByteRange>* disjoint = nullptr);

// Whether an If-Range field (RFC 9110 section 13.1.5) lets the Range apply: an entity-tag
// must match the current ETag strongly (a weak one never does); an HTTP-date must equal the
// Last-Modified time exactly. Anything else (no validator to compare, a malformed value)
// means the whole representation is sent.
bool ifRangeHolds(std::string_view field, const Validators& current);

}  // namespace http
