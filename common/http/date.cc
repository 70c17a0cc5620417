#include "common/http/date.h"

#include <array>
#include <ctime>

#include "common/http/header_list.h"

namespace http {

namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                   "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil):
// no time zone or locale is involved, unlike mktime.
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;  // 1-12
  unsigned day;    // 1-31
};

Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kLengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kLengths[m - 1];
}

// A cursor over the date's text: each take* consumes what it matched or fails.
class Cursor {
 public:
  Cursor(std::string_view text, bool any_case) : rest_(text), any_case_(any_case) {}
  bool done() const { return rest_.empty(); }
  bool take(std::string_view literal) {
    std::string_view head = rest_.substr(0, literal.size());
    if (any_case_ ? !equalsIgnoreCase(head, literal) : head != literal) {
      return false;
    }
    rest_.remove_prefix(literal.size());
    return true;
  }
  // Exactly `digits` decimal digits.
  bool number(size_t digits, int64_t* out) {
    if (rest_.size() < digits) {
      return false;
    }
    int64_t value = 0;
    for (size_t i = 0; i < digits; ++i) {
      char c = rest_[i];
      if (c < '0' || c > '9') {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    rest_.remove_prefix(digits);
    *out = value;
    return true;
  }
  // One of `names` (exact case, as the grammar's names are case-sensitive, unless the cursor
  // reads any case); *index is where.
  template <size_t N>
  bool name(const std::array<std::string_view, N>& names, size_t* index) {
    for (size_t i = 0; i < N; ++i) {
      if (take(names[i])) {
        *index = i;
        return true;
      }
    }
    return false;
  }
  // "HH:MM:SS"
  bool timeOfDay(int64_t* h, int64_t* m, int64_t* s) {
    return number(2, h) && take(":") && number(2, m) && take(":") && number(2, s);
  }

 private:
  std::string_view rest_;
  bool any_case_;
};

std::optional<int64_t> toUnix(int64_t year, size_t month_index, int64_t day, int64_t h,
                              int64_t m, int64_t s) {
  auto month = static_cast<unsigned>(month_index + 1);
  // Seconds of 60 are a leap second, which the grammar allows; Unix time has none.
  if (day < 1 || day > daysInMonth(year, month) || h > 23 || m > 59 || s > 60) {
    return std::nullopt;
  }
  return daysFromCivil(year, month, static_cast<unsigned>(day)) * 86400 + h * 3600 + m * 60 +
         (s == 60 ? 59 : s);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<int64_t> parseImfFixdate(std::string_view text, bool any_case) {
  Cursor c(text, any_case);
  size_t weekday = 0;
  size_t month = 0;
  int64_t day = 0, year = 0, h = 0, m = 0, s = 0;
  if (c.name(kDays, &weekday) && c.take(", ") && c.number(2, &day) && c.take(" ") &&
      c.name(kMonths, &month) && c.take(" ") && c.number(4, &year) && c.take(" ") &&
      c.timeOfDay(&h, &m, &s) && c.take(" GMT") && c.done()) {
    return toUnix(year, month, day, h, m, s);
  }
  return std::nullopt;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<int64_t> parseRfc850(std::string_view text, int64_t now, bool any_case) {
  Cursor c(text, any_case);
  size_t weekday = 0;
  size_t month = 0;
  int64_t day = 0, yy = 0, h = 0, m = 0, s = 0;
  if (!(c.name(kLongDays, &weekday) && c.take(", ") && c.number(2, &day) && c.take("-") &&
        c.name(kMonths, &month) && c.take("-") && c.number(2, &yy) && c.take(" ") &&
        c.timeOfDay(&h, &m, &s) && c.take(" GMT") && c.done())) {
    return std::nullopt;
  }
  // RFC 9110: a two-digit year more than 50 years in the future is the most recent past year
  // with the same last two digits.
  int64_t this_year = civilFromDays(now / 86400).year;
  int64_t year = this_year - this_year % 100 + yy;
  if (year > this_year + 50) {
    year -= 100;
  }
  return toUnix(year, month, day, h, m, s);
}

// "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space)
std::optional<int64_t> parseAsctime(std::string_view text, bool any_case) {
  Cursor c(text, any_case);
  size_t weekday = 0;
  size_t month = 0;
  int64_t day = 0, year = 0, h = 0, m = 0, s = 0;
  if (!(c.name(kDays, &weekday) && c.take(" ") && c.name(kMonths, &month) && c.take(" "))) {
    return std::nullopt;
  }
  if (!(c.take(" ") ? c.number(1, &day) : c.number(2, &day))) {
    return std::nullopt;
  }
  if (c.take(" ") && c.timeOfDay(&h, &m, &s) && c.take(" ") && c.number(4, &year) && c.done()) {
    return toUnix(year, month, day, h, m, s);
  }
  return std::nullopt;
}

std::optional<int64_t> parseDate(std::string_view text, std::optional<int64_t> now,
                                 bool any_case) {
  if (auto t = parseImfFixdate(text, any_case)) {
    return t;
  }
  if (auto t = parseRfc850(text, now ? *now : static_cast<int64_t>(time(nullptr)), any_case)) {
    return t;
  }
  return parseAsctime(text, any_case);
}

}  // namespace

std::string formatHttpDate(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  Civil civil = civilFromDays(days);
  int64_t weekday = (days % 7 + 11) % 7;  // 1970-01-01 was a Thursday
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT",
                   kDays[static_cast<size_t>(weekday)].data(), civil.day,
                   kMonths[civil.month - 1].data(), static_cast<long long>(civil.year),
                   static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                   static_cast<long long>(secs % 60));
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<int64_t> parseHttpDate(std::string_view text, std::optional<int64_t> now) {
  return parseDate(text, now, false);
}

std::optional<int64_t> parseHttpDateAnyCase(std::string_view text, std::optional<int64_t> now) {
  return parseDate(text, now, true);
}

}  // namespace http
