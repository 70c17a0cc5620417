#pragma once

#include <cstdarg>

namespace logging {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
// Text lines for people ("time level message", the default), or one JSON object per line
// for log collectors: {"time":..,"level":..,"service":..,"msg":..}. Set once at start-up.
enum class Format { kText, kJson };
void setFormat(Format format, const char* service = "");
bool parseLevel(const char* text, Level* level);
// Writes one line "time level message" to stderr with a single write, so lines from
// different threads never interleave.
void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace logging

#define LOG_INFO(...) ::logging::write(::logging::Level::kInfo, __VA_ARGS__)
#define LOG_WARN(...) ::logging::write(::logging::Level::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) ::logging::write(::logging::Level::kError, __VA_ARGS__)
#define LOG_DEBUG(...) ::logging::write(::logging::Level::kDebug, __VA_ARGS__)
