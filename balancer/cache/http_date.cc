#include "balancer/cache/http_date.h"

#include <cstdio>
#include <ctime>

#include "common/http/header_list.h"

namespace balancer::cache {

namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
int64_t daysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// A cursor over the value; each reader returns false when the text does not fit.
struct Reader {
  std::string_view s;
  size_t at = 0;

  bool literal(std::string_view text) {
    if (s.substr(at, text.size()) != text) {
      return false;
    }
    at += text.size();
    return true;
  }
  bool number(size_t min_digits, size_t max_digits, int* out) {
    int value = 0;
    size_t n = 0;
    while (at < s.size() && n < max_digits && s[at] >= '0' && s[at] <= '9') {
      value = value * 10 + (s[at] - '0');
      ++at;
      ++n;
    }
    *out = value;
    return n >= min_digits;
  }
  // Month names and GMT are taken in any case ("AUG", "gmt"): lenient where nothing is
  // ambiguous, as browsers and caches are.
  bool literalIgnoreCase(std::string_view text) {
    if (!http::equalsIgnoreCase(s.substr(at, text.size()), text)) {
      return false;
    }
    at += text.size();
    return true;
  }
  bool month(int* out) {
    for (int i = 0; i < 12; ++i) {
      if (literalIgnoreCase(kMonths[i])) {
        *out = i + 1;
        return true;
      }
    }
    return false;
  }
  bool time(int* h, int* m, int* sec) {
    return number(2, 2, h) && literal(":") && number(2, 2, m) && literal(":") &&
           number(2, 2, sec);
  }
  void skipDayName() {
    while (at < s.size() && s[at] != ',' && s[at] != ' ') {
      ++at;
    }
  }
};

std::optional<int64_t> toUnix(int year, int month, int day, int h, int m, int s) {
  if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60) {
    return std::nullopt;
  }
  return daysFromCivil(year, month, day) * 86400 + h * 3600 + m * 60 + s;
}

}  // namespace

std::optional<int64_t> parseHttpDate(std::string_view value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  Reader r{value};
  r.skipDayName();
  int day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  if (r.literal(", ")) {
    size_t after_day_name = r.at;
    // IMF-fixdate: "06 Nov 1994 08:49:37 GMT"
    if (r.number(2, 2, &day) && r.literal(" ") && r.month(&month) && r.literal(" ") &&
        r.number(4, 4, &year) && r.literal(" ") && r.time(&h, &m, &s) && r.literalIgnoreCase(" GMT") &&
        r.at == value.size()) {
      return toUnix(year, month, day, h, m, s);
    }
    // RFC 850: "06-Nov-94 08:49:37 GMT"; a two-digit year is taken as 1970..2069.
    r.at = after_day_name;
    if (r.number(2, 2, &day) && r.literal("-") && r.month(&month) && r.literal("-") &&
        r.number(2, 2, &year) && r.literal(" ") && r.time(&h, &m, &s) && r.literalIgnoreCase(" GMT") &&
        r.at == value.size()) {
      return toUnix(year < 70 ? 2000 + year : 1900 + year, month, day, h, m, s);
    }
    return std::nullopt;
  }
  // asctime: "Nov  6 08:49:37 1994"
  if (r.literal(" ") && r.month(&month) && r.literal(" ")) {
    r.literal(" ");
    if (r.number(1, 2, &day) && r.literal(" ") && r.time(&h, &m, &s) && r.literal(" ") &&
        r.number(4, 4, &year) && r.at == value.size()) {
      return toUnix(year, month, day, h, m, s);
    }
  }
  return std::nullopt;
}

std::string formatHttpDate(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[40];
  snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
           kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace balancer::cache
