#include "common/util/units.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace util {

namespace {
// Splits "12.5ms" into 12.5 and "ms". Returns false when no number leads.
bool splitNumber(std::string_view text, double* number, std::string_view* unit) {
  size_t i = 0;
  bool digits = false;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0 ||
                             text[i] == '.')) {
    digits = digits || text[i] != '.';
    ++i;
  }
  if (!digits) {
    return false;
  }
  std::string number_text(text.substr(0, i));
  char* end = nullptr;
  *number = std::strtod(number_text.c_str(), &end);
  if (end == nullptr || *end != '\0') {
    return false;
  }
  *unit = text.substr(i);
  while (!unit->empty() && unit->front() == ' ') {
    unit->remove_prefix(1);
  }
  return true;
}
}  // namespace

std::optional<Millis> parseDuration(std::string_view text, std::string* error) {
  double number = 0;
  std::string_view unit;
  if (!splitNumber(text, &number, &unit)) {
    *error = "invalid duration '" + std::string(text) + "' (expected e.g. 500ms, 2s, 1m)";
    return std::nullopt;
  }
  double ms = 0;
  if (unit == "ms") {
    ms = number;
  } else if (unit == "s") {
    ms = number * 1000;
  } else if (unit == "m") {
    ms = number * 60 * 1000;
  } else if (unit == "h") {
    ms = number * 3600 * 1000;
  } else if (unit.empty()) {
    *error = "duration '" + std::string(text) + "' needs a unit: ms, s, m or h";
    return std::nullopt;
  } else {
    *error = "unknown duration unit '" + std::string(unit) + "' (use ms, s, m or h)";
    return std::nullopt;
  }
  if (ms > 1e12) {
    *error = "duration '" + std::string(text) + "' is too long";
    return std::nullopt;
  }
  return Millis(static_cast<int64_t>(std::llround(ms)));
}

std::optional<uint64_t> parseSize(std::string_view text, std::string* error) {
  double number = 0;
  std::string_view unit;
  if (!splitNumber(text, &number, &unit)) {
    *error = "invalid size '" + std::string(text) + "' (expected e.g. 4096, 64KiB, 10MiB)";
    return std::nullopt;
  }
  double scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "k" || unit == "K" || unit == "KB" || unit == "KiB" || unit == "kB") {
    scale = 1024.0;
  } else if (unit == "m" || unit == "M" || unit == "MB" || unit == "MiB") {
    scale = 1024.0 * 1024;
  } else if (unit == "g" || unit == "G" || unit == "GB" || unit == "GiB") {
    scale = 1024.0 * 1024 * 1024;
  } else {
    *error = "unknown size unit '" + std::string(unit) + "' (use KiB, MiB or GiB)";
    return std::nullopt;
  }
  double bytes = number * scale;
  if (bytes > 1e18) {
    *error = "size '" + std::string(text) + "' is too large";
    return std::nullopt;
  }
  return static_cast<uint64_t>(bytes);
}

}  // namespace util
