#include "services/product/list_query.h"

#include <charconv>

namespace product {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Well-formed UTF-8 (RFC 3629), as PostgreSQL's UTF8 encoding demands: otherwise the query
// fails with an encoding error, which is the client's mistake, not a 500.
bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= text.size()) {  // cut short
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

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

bool percentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return false;
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::optional<ListQuery> parseListQuery(std::string_view query, std::string* error) {
  ListQuery out;
  bool seen_limit = false;
  bool seen_offset = false;
  bool seen_q = false;
  std::string value;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    bool* seen = name == "limit"    ? &seen_limit
                 : name == "offset" ? &seen_offset
                 : name == "q"      ? &seen_q
                                    : nullptr;
    if (seen == nullptr || *seen) {
      continue;
    }
    *seen = true;
    if (!percentDecode(raw, &value)) {
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
      if (!isValidUtf8(value) || value.find('\0') != std::string::npos) {
        *error = "q must be UTF-8 text without NUL";
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
  for (char c : query.q) {
    key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return key;
}

}  // namespace product
