#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace balancer::rate_limit {

// Parses a route's `rate`: "100/s", "6000/m", "10/h" (a fraction such as "0.5/s" too).
// Returns tokens per second, or nullopt with the reason in *error.
std::optional<double> parseRate(std::string_view text, std::string* error);

}  // namespace balancer::rate_limit
