#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace util {

using Millis = std::chrono::milliseconds;

// Parses "250ms", "2s", "1.5s", "5m", "1h". A bare number is refused: the unit must be said.
// Returns nullopt and sets *error on a bad value.
std::optional<Millis> parseDuration(std::string_view text, std::string* error);

// Parses a byte size: "1024", "64k", "64KiB", "10MB", "1g" (all powers of 1024).
std::optional<uint64_t> parseSize(std::string_view text, std::string* error);

}  // namespace util
