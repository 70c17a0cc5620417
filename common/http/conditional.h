#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace http {

class HeaderList;

// Conditional requests (RFC 9110 section 13): what a server holding a representation answers
// to If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since. Pure functions: the
// static files filter and the cache both use them.

// An entity-tag: `"xyz"` or `W/"xyz"`. `opaque` keeps its quotes.
struct EntityTag {
  std::string_view opaque;
  bool weak = false;
};

// Parses one entity-tag that makes up all of `text` (no surrounding whitespace); nothing if
// it is not one (a missing quote, a character outside etagc).
std::optional<EntityTag> parseEntityTag(std::string_view text);

// Strong comparison: both strong and the same opaque-tag. Weak: the same opaque-tag.
bool strongMatch(const EntityTag& a, const EntityTag& b);
bool weakMatch(const EntityTag& a, const EntityTag& b);

// Whether the list `field` (an If-Match or If-None-Match value: "*" or 1#entity-tag, commas
// and optional whitespace between, empty elements allowed) names `current`, comparing
// strongly or weakly. "*" matches any current representation. A malformed element ends the
// list: what came before it still counts.
bool entityTagListMatches(std::string_view field, const EntityTag& current, bool weak);

// What the server knows of the selected representation.
struct Validators {
  bool exists = true;                    // false: there is no current representation
  std::string_view etag;                 // as the ETag field sends it; empty: none
  std::optional<int64_t> last_modified;  // Unix seconds
};

// The request's precondition fields, each line of a repeated field joined with ", ".
struct Preconditions {
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::optional<std::string> if_modified_since;
  std::optional<std::string> if_unmodified_since;

  static Preconditions fromHeaders(const HeaderList& headers);
  bool any() const {
    return if_match || if_none_match || if_modified_since || if_unmodified_since;
  }
};

enum class PreconditionResult {
  kProceed,      // answer as if there were no conditions (Range is next)
  kNotModified,  // 304 (GET and HEAD only)
  kFailed,       // 412
};

// Evaluates the preconditions in RFC 9110 section 13.2.2's order: If-Match, else
// If-Unmodified-Since (412 when false); If-None-Match (false: 304 for GET/HEAD, else 412),
// else If-Modified-Since (GET/HEAD only; false: 304). A date field that is not a valid
// HTTP-date, or a date condition on a representation without a modification date, is
// ignored. `get_or_head` is whether the method is GET or HEAD. Call it only when the
// response would otherwise be 2xx (section 13.2.1).
PreconditionResult evaluatePreconditions(const Preconditions& conditions,
                                         const Validators& current, bool get_or_head);

}  // namespace http
