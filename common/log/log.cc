#include "common/log/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace logging {

namespace {
std::atomic<Level> g_level{Level::kInfo};
Format g_format = Format::kText;
const char* g_service = "";

const char* levelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) { g_level.store(level); }

void setFormat(Format format, const char* service) {
  g_format = format;
  g_service = service;
}

bool parseLevel(const char* text, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (std::strcmp(text, levelName(l)) == 0) {
      *level = l;
      return true;
    }
  }
  return false;
}

namespace {
// The message as a JSON string body: quotes, backslashes and control characters escaped.
size_t escapeJson(const char* in, size_t len, char* out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len && n + 7 < cap; ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = static_cast<char>(c);
    } else if (c < 0x20) {
      n += static_cast<size_t>(snprintf(out + n, cap - n, "\\u%04x", c));
    } else {
      out[n++] = static_cast<char>(c);
    }
  }
  return n;
}
}  // namespace

void write(Level level, const char* format, ...) {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  char line[1024];
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                   parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                   parts.tm_min, parts.tm_sec, now.tv_nsec / 1000000, levelName(level));
  va_list args;
  va_start(args, format);
  int m = vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, format, args);
  va_end(args);
  size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
  if (len > sizeof line - 2) {
    len = sizeof line - 2;
  }
  if (g_format == Format::kJson) {
    // Rebuilt around the formatted message: {"time":"..","level":"..","service":"..","msg":".."}
    char json[2200];
    int head = snprintf(json, sizeof json,
                        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                        "\"service\":\"%s\",\"msg\":\"",
                        parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                        parts.tm_min, parts.tm_sec, now.tv_nsec / 1000000, levelName(level),
                        g_service);
    size_t j = static_cast<size_t>(head);
    j += escapeJson(line + n, len - static_cast<size_t>(n), json + j, sizeof json - j - 3);
    json[j++] = '"';
    json[j++] = '}';
    json[j++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, json, j);
    (void)ignored;
    return;
  }
  line[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, len);
  (void)ignored;
}

}  // namespace logging
