#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "balancer/cache/cached_object.h"
#include "common/http/header_list.h"
#include "common/http/range.h"

namespace balancer::cache {

// What a stored response answers to the request's own conditions: its preconditions
// (RFC 9110 13.2) and its Range (14.2), evaluated as the origin would, with the stored
// validators. Reuses common/http's conditional and range rules (the static files' too).
struct StoredAnswer {
  enum class Kind : uint8_t {
    kFull,                // the stored response as it is
    kNotModified,         // 304 (If-None-Match / If-Modified-Since)
    kPreconditionFailed,  // 412 (If-Match / If-Unmodified-Since)
    kPartial,             // 206 with `range` of the stored body
    kUnsatisfiable,       // 416
    kMultipart,           // 206 multipart/byteranges with `ranges` of the (complete) body
  };
  Kind kind = Kind::kFull;
  http::ByteRange range;      // kPartial
  std::vector<http::ByteRange> ranges;  // kMultipart: sorted, disjoint
  std::string content_range;  // kPartial and kUnsatisfiable: the Content-Range value
};

// Several ranges adding up to more than this get the whole 200 (a cache may ignore Range):
// a multipart body is built in memory per request, while the whole body is sent from the
// shared stored object, so `bytes=0-0,2-` on a large object must not copy it per client.
constexpr uint64_t kMultipartMaxBytes = 256 * 1024;

// Preconditions apply only to a stored 2xx (13.2.1); Range only to a GET of a stored 200
// whose length is known (complete, or announced by the origin): otherwise the whole response
// (a cache may ignore Range). If-Range gates the Range with the stored validators.
StoredAnswer answerFromStore(const CachedObject& object, const http::HeaderList& request,
                             bool is_get);

// A multipart/byteranges body (RFC 9110 14.6) of `ranges` of a complete stored body: each
// part with the stored Content-Type (if any) and its Content-Range, then the closing
// delimiter. Copied: at most the body's length, since the ranges are disjoint.
std::string multipartBody(const CachedObject& object, const std::vector<http::ByteRange>& ranges,
                          std::string_view boundary);

// The head lines of a 304 made from a stored response (RFC 9110 15.4.5): what a 200 would
// carry (ETag, Cache-Control, Expires, Vary, Date, Last-Modified, Content-Location...) and Age,
// without the content metadata of a body it does not send (Content-Type, Content-Encoding...).
std::string notModifiedLines(const CachedObject& object, int64_t now_ms);

}  // namespace balancer::cache
