#include "services/product/representation.h"

#include <array>
#include <cstdio>

#include "services/kit/key_hash.h"

namespace product {

namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view withoutWeakPrefix(std::string_view tag) {
  return tag.substr(0, 2) == "W/" ? tag.substr(2) : tag;
}

// Digits [pos, pos + n) of `s` as a number, or -1.
int digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) {
    return -1;
  }
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

}  // namespace

std::string cacheControl(const Freshness& freshness) {
  std::string value = "public, max-age=" + std::to_string(freshness.max_age_s);
  if (freshness.stale_while_revalidate_s > 0) {
    value += ", stale-while-revalidate=" + std::to_string(freshness.stale_while_revalidate_s);
  }
  return value;
}

std::string strongEtag(std::string_view body) { return '"' + kit::keyHash(body) + '"'; }

bool ifNoneMatchMatches(std::string_view field, std::string_view etag) {
  field = trim(field);
  if (field == "*") {
    return true;
  }
  const std::string_view ours = withoutWeakPrefix(etag);
  // Entity tags may hold commas inside their quotes: walk tag by tag rather than split.
  size_t pos = 0;
  while (pos < field.size()) {
    while (pos < field.size() && (field[pos] == ' ' || field[pos] == '\t' || field[pos] == ',')) {
      ++pos;
    }
    size_t start = pos;
    if (field.substr(pos, 2) == "W/") {
      pos += 2;
    }
    if (pos >= field.size() || field[pos] != '"') {
      return false;  // not a list of entity tags: no match (RFC 9110 13.1.2 wants tags)
    }
    size_t close = field.find('"', pos + 1);
    if (close == std::string_view::npos) {
      return false;
    }
    if (withoutWeakPrefix(field.substr(start, close + 1 - start)) == ours) {
      return true;
    }
    pos = close + 1;
  }
  return false;
}

std::string httpDate(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

std::optional<std::string> lastModifiedOf(std::string_view product_json) {
  // The body is the service's own compact JSON: a quote inside a string value is escaped
  // (\"), so this key with its unescaped quotes can only be the object's own member. It is
  // the last member, hence rfind.
  static constexpr std::string_view kKey = "\"updated_at\":\"";
  size_t at = product_json.rfind(kKey);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view iso = product_json.substr(at + kKey.size());
  // YYYY-MM-DDTHH:MM:SS
  if (iso.size() < 20 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':' ||
      iso[16] != ':') {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = digits(iso, 0, 4) - 1900;
  tm.tm_mon = digits(iso, 5, 2) - 1;
  tm.tm_mday = digits(iso, 8, 2);
  tm.tm_hour = digits(iso, 11, 2);
  tm.tm_min = digits(iso, 14, 2);
  tm.tm_sec = digits(iso, 17, 2);
  size_t end = iso.find('"');
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
      tm.tm_sec < 0 || end == std::string_view::npos || iso[end - 1] != 'Z') {
    return std::nullopt;
  }
  return httpDate(timegm(&tm));
}

}  // namespace product
