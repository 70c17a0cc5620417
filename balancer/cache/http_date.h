#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace balancer::cache {

// Parses an HTTP-date (RFC 9110 5.6.7) in any of its three forms: IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37
// GMT") and asctime ("Sun Nov  6 08:49:37 1994"). Returns Unix seconds, or none when the
// value is not a date (a cache then treats Expires as already past).
std::optional<int64_t> parseHttpDate(std::string_view value);

// Formats Unix seconds as an IMF-fixdate.
std::string formatHttpDate(int64_t unix_seconds);

}  // namespace balancer::cache
