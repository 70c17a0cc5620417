#include "common/http/conditional.h"

#include "common/http/date.h"
#include "common/http/header_list.h"

namespace http {

namespace {

bool isEtagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80; }

bool isOws(char c) { return c == ' ' || c == '\t'; }

// Reads the entity-tag at the start of `rest` and removes it; nothing if none is there.
std::optional<EntityTag> takeEntityTag(std::string_view* rest) {
  std::string_view s = *rest;
  bool weak = false;
  if (s.substr(0, 2) == "W/") {
    weak = true;
    s.remove_prefix(2);
  }
  if (s.empty() || s.front() != '"') {
    return std::nullopt;
  }
  size_t close = 1;
  while (close < s.size() && s[close] != '"') {
    if (!isEtagc(static_cast<unsigned char>(s[close]))) {
      return std::nullopt;
    }
    ++close;
  }
  if (close == s.size()) {
    return std::nullopt;
  }
  EntityTag tag{s.substr(0, close + 1), weak};
  rest->remove_prefix((weak ? 2 : 0) + close + 1);
  return tag;
}

void skipOws(std::string_view* s) {
  while (!s->empty() && isOws(s->front())) {
    s->remove_prefix(1);
  }
}

// Every line of the field `name`, joined with ", " (RFC 9110 section 5.3), or nothing.
std::optional<std::string> joined(const HeaderList& headers, std::string_view name) {
  std::optional<std::string> out;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!equalsIgnoreCase(headers.name(i), name)) {
      continue;
    }
    if (out) {
      out->append(", ");
    } else {
      out.emplace();
    }
    out->append(headers.value(i));
  }
  return out;
}

std::optional<int64_t> dateOf(const std::optional<std::string>& field) {
  return field ? parseHttpDate(trimOws(*field)) : std::nullopt;
}

}  // namespace

std::optional<EntityTag> parseEntityTag(std::string_view text) {
  std::string_view rest = text;
  std::optional<EntityTag> tag = takeEntityTag(&rest);
  if (!tag || !rest.empty()) {
    return std::nullopt;
  }
  return tag;
}

bool strongMatch(const EntityTag& a, const EntityTag& b) {
  return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weakMatch(const EntityTag& a, const EntityTag& b) { return a.opaque == b.opaque; }

bool entityTagListMatches(std::string_view field, const EntityTag& current, bool weak) {
  std::string_view rest = trimOws(field);
  if (rest == "*") {
    return true;
  }
  while (!rest.empty()) {
    if (rest.front() == ',') {  // an empty element
      rest.remove_prefix(1);
      skipOws(&rest);
      continue;
    }
    std::optional<EntityTag> tag = takeEntityTag(&rest);
    if (!tag) {
      return false;
    }
    if (weak ? weakMatch(*tag, current) : strongMatch(*tag, current)) {
      return true;
    }
    skipOws(&rest);
    if (!rest.empty() && rest.front() != ',') {
      return false;
    }
  }
  return false;
}

Preconditions Preconditions::fromHeaders(const HeaderList& headers) {
  Preconditions p;
  p.if_match = joined(headers, "If-Match");
  p.if_none_match = joined(headers, "If-None-Match");
  p.if_modified_since = joined(headers, "If-Modified-Since");
  p.if_unmodified_since = joined(headers, "If-Unmodified-Since");
  return p;
}

PreconditionResult evaluatePreconditions(const Preconditions& conditions,
                                         const Validators& current, bool get_or_head) {
  std::optional<EntityTag> etag;
  if (!current.etag.empty()) {
    etag = parseEntityTag(current.etag);
  }
  // Step 1: If-Match, strong comparison; "*" is true when a representation exists.
  if (conditions.if_match) {
    bool holds = false;
    if (trimOws(*conditions.if_match) == "*") {
      holds = current.exists;
    } else if (etag && current.exists) {
      holds = entityTagListMatches(*conditions.if_match, *etag, false);
    }
    if (!holds) {
      return PreconditionResult::kFailed;
    }
  } else if (conditions.if_unmodified_since && current.last_modified) {
    // Step 2: only without If-Match; false when modified after the date.
    if (std::optional<int64_t> date = dateOf(conditions.if_unmodified_since)) {
      if (*current.last_modified > *date) {
        return PreconditionResult::kFailed;
      }
    }
  }
  // Step 3: If-None-Match, weak comparison; "*" is false when a representation exists.
  if (conditions.if_none_match) {
    bool matches = false;
    if (trimOws(*conditions.if_none_match) == "*") {
      matches = current.exists;
    } else if (etag && current.exists) {
      matches = entityTagListMatches(*conditions.if_none_match, *etag, true);
    }
    if (matches) {
      return get_or_head ? PreconditionResult::kNotModified : PreconditionResult::kFailed;
    }
  } else if (get_or_head && conditions.if_modified_since && current.last_modified &&
             current.exists) {
    // Step 4: only without If-None-Match, only GET and HEAD; false when not modified since.
    if (std::optional<int64_t> date = dateOf(conditions.if_modified_since)) {
      if (*current.last_modified <= *date) {
        return PreconditionResult::kNotModified;
      }
    }
  }
  return PreconditionResult::kProceed;
}

}  // namespace http
