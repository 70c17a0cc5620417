#include "services/product/list_query.h"

#include <charconv>

#include "common/http/query.h"
#include "common/util/utf8.h"
#include "services/kit/key_hash.h"

namespace product {

namespace {

// A whole decimal integer in [min, max], or nullopt.
std::optional<int64_t> parseInteger(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < min ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<ListQuery> parseListQuery(std::string_view query, std::string* error) {
  ListQuery out;
  bool seen_limit = false;
  bool seen_offset = false;
  bool seen_q = false;
  std::string value;
  for (auto [name, raw] : http::splitQuery(query)) {
    bool* seen = name == "limit"    ? &seen_limit
                 : name == "offset" ? &seen_offset
                 : name == "q"      ? &seen_q
                                    : nullptr;
    if (seen == nullptr || *seen) {
      continue;
    }
    *seen = true;
    if (!http::percentDecode(raw, &value)) {
      *error = std::string(name) + ": bad percent-encoding";
      return std::nullopt;
    }
    if (name == "limit") {
      auto limit = parseInteger(value, 1, ListQuery::kMaxLimit);
      if (!limit) {
        *error = "limit must be an integer from 1 to 100";
        return std::nullopt;
      }
      out.limit = *limit;
    } else if (name == "offset") {
      auto offset = parseInteger(value, 0, INT64_MAX);
      if (!offset) {
        *error = "offset must be an integer >= 0";
        return std::nullopt;
      }
      out.offset = *offset;
    } else {
      if (!util::isValidUtf8(value) || value.find('\0') != std::string::npos) {
        *error = "q must be UTF-8 text without NUL";
        return std::nullopt;
      }
      if (value.size() > ListQuery::kMaxQBytes) {
        *error = "q must be at most " + std::to_string(ListQuery::kMaxQBytes) + " bytes";
        return std::nullopt;
      }
      out.q = value;
    }
  }
  return out;
}

std::string containsPattern(std::string_view q) {
  std::string out;
  out.reserve(q.size() + 2);
  out.push_back('%');
  for (char c : q) {
    if (c == '\\' || c == '%' || c == '_') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

std::string listCacheKey(std::string_view version, const ListQuery& query) {
  std::string key = "products:list:";
  key += version;
  key += ':';
  key += std::to_string(query.limit);
  key += ':';
  key += std::to_string(query.offset);
  key += ':';
  std::string folded = query.q;
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  key += kit::keyHash(folded);
  return key;
}

}  // namespace product
