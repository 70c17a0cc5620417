#include "balancer/cache/stored_answer.h"

#include "common/http/conditional.h"
#include "common/http/date.h"

namespace balancer::cache {

namespace {

// The body's length as a 206 or 416 must say it: known once complete, or announced.
std::optional<uint64_t> knownLength(const CachedObject& object) {
  if (object.complete()) {
    return object.body->size();
  }
  return object.content_length;
}

std::optional<std::string> field(const http::HeaderList& headers, std::string_view name) {
  bool found = false;
  std::string value = combinedValue(headers, name, &found);
  return found ? std::optional<std::string>(std::move(value)) : std::nullopt;
}

}  // namespace

StoredAnswer answerFromStore(const CachedObject& object, const http::HeaderList& request,
                             bool is_get) {
  StoredAnswer answer;
  if (object.status < 200 || object.status > 299) {
    return answer;
  }
  http::Validators validators;
  validators.etag = object.etag;
  if (!object.last_modified.empty()) {
    validators.last_modified = http::parseHttpDateAnyCase(object.last_modified);
  }
  const http::Preconditions conditions = http::Preconditions::fromHeaders(request);
  if (!validators.last_modified && conditions.if_modified_since &&
      !conditions.if_unmodified_since) {
    // If-Modified-Since on a response without Last-Modified compares with its Date, else
    // the time it was received (RFC 9111 4.3.2).
    validators.last_modified = object.times.date_s.value_or(object.times.response_ms / 1000);
  }
  if (conditions.any()) {
    switch (http::evaluatePreconditions(conditions, validators, true)) {
      case http::PreconditionResult::kNotModified:
        answer.kind = StoredAnswer::Kind::kNotModified;
        return answer;
      case http::PreconditionResult::kFailed:
        answer.kind = StoredAnswer::Kind::kPreconditionFailed;
        return answer;
      case http::PreconditionResult::kProceed:
        break;
    }
  }
  const std::optional<std::string> range = field(request, "range");
  const std::optional<uint64_t> length = knownLength(object);
  if (!is_get || object.status != 200 || !range || !length) {
    return answer;
  }
  if (std::optional<std::string> if_range = field(request, "if-range")) {
    if (!http::ifRangeHolds(*if_range, validators)) {
      return answer;
    }
  }
  std::vector<http::ByteRange> disjoint;
  const http::RangeDecision decision = http::evaluateRange(*range, *length, &disjoint);
  switch (decision.kind) {
    case http::RangeDecision::Kind::kFull:
      if (!disjoint.empty() && object.complete() &&
          http::totalLength(disjoint) <= kMultipartMaxBytes) {
        answer.kind = StoredAnswer::Kind::kMultipart;
        answer.ranges = std::move(disjoint);
      }
      break;
    case http::RangeDecision::Kind::kPartial:
      answer.kind = StoredAnswer::Kind::kPartial;
      answer.range = decision.range;
      answer.content_range = decision.contentRange(*length);
      break;
    case http::RangeDecision::Kind::kUnsatisfiable:
      answer.kind = StoredAnswer::Kind::kUnsatisfiable;
      answer.content_range = decision.contentRange(*length);
      break;
  }
  return answer;
}

std::string multipartBody(const CachedObject& object, const std::vector<http::ByteRange>& ranges,
                          std::string_view boundary) {
  const std::string length = std::to_string(object.body->size());
  const std::string type = combinedValue(object.headers, "content-type");
  std::string out;
  for (const http::ByteRange& range : ranges) {
    out.append("--").append(boundary).append("\r\n");
    if (!type.empty()) {
      out.append("Content-Type: ").append(type).append("\r\n");
    }
    out.append("Content-Range: bytes ")
        .append(std::to_string(range.first))
        .append("-")
        .append(std::to_string(range.last))
        .append("/")
        .append(length)
        .append("\r\n\r\n");
    for (uint64_t at = range.first; at <= range.last;) {
      std::string_view piece = object.body->read(at, static_cast<size_t>(range.last + 1 - at));
      if (piece.empty()) {
        break;  // cannot happen for a complete body and ranges within it
      }
      out.append(piece);
      at += piece.size();
    }
    out.append("\r\n");
  }
  out.append("--").append(boundary).append("--\r\n");
  return out;
}

std::string notModifiedLines(const CachedObject& object, int64_t now_ms) {
  return object.headLines(now_ms, [](const Field& f) {
    return f.name.size() > 8 && http::equalsIgnoreCase(f.name.substr(0, 8), "content-") &&
           !http::equalsIgnoreCase(f.name, "content-location");
  });
}

}  // namespace balancer::cache
