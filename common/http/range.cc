#include "common/http/range.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/http/date.h"
#include "common/http/header_list.h"

namespace http {

namespace {

// More range-specs than this in one field are not worth looking at: the field is ignored.
constexpr size_t kMaxRangeSpecs = 64;

// 1*DIGIT; a value past uint64 saturates (it is past any length anyway).
std::optional<uint64_t> digits(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    auto d = static_cast<uint64_t>(c - '0');
    value = value > (UINT64_MAX - d) / 10 ? UINT64_MAX : value * 10 + d;
  }
  return value;
}

// A range-spec made concrete for `length`, or nothing when it is unsatisfiable. *valid is
// false when it is not a range-spec at all.
std::optional<ByteRange> rangeSpec(std::string_view spec, uint64_t length, bool* valid) {
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) {
    *valid = false;
    return std::nullopt;
  }
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // suffix-range: "-N"
    std::optional<uint64_t> suffix = digits(last_text);
    if (!suffix) {
      *valid = false;
      return std::nullopt;
    }
    if (*suffix == 0 || length == 0) {
      return std::nullopt;
    }
    return ByteRange{length - std::min(*suffix, length), length - 1};
  }
  std::optional<uint64_t> first = digits(first_text);
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = digits(last_text);
    if (!last) {
      *valid = false;
      return std::nullopt;
    }
  }
  if (!first || (last && *last < *first)) {
    *valid = false;  // section 14.1.1: last-pos before first-pos is invalid
    return std::nullopt;
  }
  if (*first >= length) {
    return std::nullopt;
  }
  return ByteRange{*first, last ? std::min(*last, length - 1) : length - 1};
}

}  // namespace

int RangeDecision::status() const {
  switch (kind) {
    case Kind::kPartial:
      return 206;
    case Kind::kUnsatisfiable:
      return 416;
    case Kind::kFull:
      break;
  }
  return 200;
}

std::string RangeDecision::contentRange(uint64_t length) const {
  switch (kind) {
    case Kind::kPartial:
      return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
             std::to_string(length);
    case Kind::kUnsatisfiable:
      return "bytes */" + std::to_string(length);
    case Kind::kFull:
      break;
  }
  return {};
}

RangeDecision evaluateRange(std::string_view field, uint64_t length,
                            std::vector<ByteRange>* disjoint) {
  RangeDecision full;
  field = trimOws(field);
  size_t equals = field.find('=');
  if (equals == std::string_view::npos || !equalsIgnoreCase(field.substr(0, equals), "bytes")) {
    return full;  // no unit, or one we do not serve: ignored
  }
  std::vector<ByteRange> satisfiable;
  std::string_view rest = field.substr(equals + 1);
  size_t specs = 0;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view spec = trimOws(rest.substr(0, comma));
    if (!spec.empty()) {  // the list rule allows empty elements
      if (++specs > kMaxRangeSpecs) {
        return full;
      }
      bool valid = true;
      std::optional<ByteRange> range = rangeSpec(spec, length, &valid);
      if (!valid) {
        return full;
      }
      if (range) {
        satisfiable.push_back(*range);
      }
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  if (specs == 0) {
    return full;  // "bytes=" names no range: not a ranges-specifier
  }
  if (satisfiable.empty()) {
    if (length == 0) {
      return full;
    }
    RangeDecision none;
    none.kind = RangeDecision::Kind::kUnsatisfiable;
    return none;
  }
  // Merge overlapping and adjacent ranges; if one is left, it is the answer.
  std::sort(satisfiable.begin(), satisfiable.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
  std::vector<ByteRange> merged_ranges = {satisfiable.front()};
  for (size_t i = 1; i < satisfiable.size(); ++i) {
    ByteRange& merged = merged_ranges.back();
    if (satisfiable[i].first > merged.last + 1) {
      merged_ranges.push_back(satisfiable[i]);
    } else {
      merged.last = std::max(merged.last, satisfiable[i].last);
    }
  }
  if (merged_ranges.size() > 1) {
    // Disjoint ranges: the whole representation, unless the caller sends multipart.
    if (disjoint != nullptr) {
      *disjoint = std::move(merged_ranges);
    }
    return full;
  }
  const ByteRange merged = merged_ranges.front();
  RangeDecision partial;
  partial.kind = RangeDecision::Kind::kPartial;
  partial.range = merged;
  return partial;
}

bool ifRangeHolds(std::string_view field, const Validators& current) {
  field = trimOws(field);
  if (field.substr(0, 1) == "\"" || field.substr(0, 2) == "W/") {
    std::optional<EntityTag> asked = parseEntityTag(field);
    std::optional<EntityTag> have =
        current.etag.empty() ? std::nullopt : parseEntityTag(current.etag);
    return asked && have && strongMatch(*asked, *have);
  }
  std::optional<int64_t> date = parseHttpDate(field);
  return date && current.last_modified && *date == *current.last_modified;
}

}  // namespace http
