#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace http {

// HTTP-dates (RFC 9110 section 5.6.7) as Unix seconds.

// Formats `unix_seconds` as an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes).
std::string formatHttpDate(int64_t unix_seconds);

// Parses an HTTP-date in any of the three forms a recipient must accept: IMF-fixdate, the
// obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT", its two-digit year taken as the
// most recent past year with those digits unless that is more than 50 years ago) and
// asctime's ("Sun Nov  6 08:49:37 1994"). Returns nothing for anything else, including an
// out-of-range field (a 31st of February, hour 24). `now` (Unix seconds) places a two-digit
// year; without it the clock is read.
std::optional<int64_t> parseHttpDate(std::string_view text,
                                     std::optional<int64_t> now = std::nullopt);

// The same, with day names, month names and "GMT" in any case ("THU, 18 AUG 2050 ... gMT"): a
// cache reading Date, Expires and Last-Modified is robust (RFC 9110 5.6.7 encourages it), as
// other caches are.
std::optional<int64_t> parseHttpDateAnyCase(std::string_view text,
                                            std::optional<int64_t> now = std::nullopt);

}  // namespace http
