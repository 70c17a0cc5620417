#include "balancer/rate_limit/rate.h"

#include <cmath>
#include <cstdlib>

namespace balancer::rate_limit {

std::optional<double> parseRate(std::string_view text, std::string* error) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    *error = "invalid rate " + quoted + " (expected e.g. 100/s, 6000/m, 10/h)";
    return std::nullopt;
  }
  // strtod alone would accept " 1e3", "inf" and "0x10": a count is digits and at most one dot.
  std::string count(text.substr(0, slash));
  if (count.find_first_of("0123456789") == std::string::npos ||
      count.find_first_not_of("0123456789.") != std::string::npos ||
      count.find('.') != count.rfind('.')) {
    *error = "invalid rate " + quoted + ": the count before '/' must be a number";
    return std::nullopt;
  }
  double number = std::strtod(count.c_str(), nullptr);

  std::string_view unit = text.substr(slash + 1);
  double seconds = 0;
  if (unit == "s") {
    seconds = 1;
  } else if (unit == "m") {
    seconds = 60;
  } else if (unit == "h") {
    seconds = 3600;
  } else {
    *error = "invalid rate " + quoted + ": the unit after '/' must be s, m or h";
    return std::nullopt;
  }
  if (!(number > 0) || !std::isfinite(number)) {
    *error = "invalid rate " + quoted + ": it must be above zero";
    return std::nullopt;
  }
  return number / seconds;
}

}  // namespace balancer::rate_limit
