#include "balancer/access_log/exchange_record.h"

#include <uv.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "balancer/access_log/access_log.h"
#include "balancer/metrics/registry.h"
#include "balancer/metrics/worker_metrics.h"
#include "balancer/snapshot.h"

namespace balancer {

namespace {

// Appends `s` as the inside of a JSON string: quotes, backslashes and control characters
// escaped; bytes >= 0x80 passed through (paths are percent-encoded, but a client may send
// anything, so invalid UTF-8 is replaced byte by byte with U+FFFD to keep the line valid).
void appendJsonEscaped(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out->append(esc, 6);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else {
      // A well-formed UTF-8 sequence goes through as it is.
      size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
      bool ok = len != 0 && i + len <= s.size();
      for (size_t k = 1; ok && k < len; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      }
      if (ok) {
        out->append(s.data() + i, len);
        i += len;
      } else {
        out->append("\xEF\xBF\xBD");
        ++i;
      }
    }
  }
}

void appendString(std::string* out, std::string_view key, std::string_view value) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
  if (value.empty()) {
    out->append("null");
    return;
  }
  out->push_back('"');
  appendJsonEscaped(out, value);
  out->push_back('"');
}

// The target as logged: the value of an `access_token` query parameter (a WebSocket's JWT,
// which browsers cannot send in a header) is replaced, so the log holds no usable token.
void appendTarget(std::string* out, std::string_view key, std::string_view target) {
  static constexpr std::string_view kParam = "access_token=";
  size_t query = target.find('?');
  if (query == std::string_view::npos || target.find(kParam, query) == std::string_view::npos) {
    appendString(out, key, target);
    return;
  }
  std::string redacted(target.substr(0, query + 1));
  std::string_view rest = target.substr(query + 1);
  while (true) {
    size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    if (param.substr(0, kParam.size()) == kParam) {
      redacted.append(kParam).append("REDACTED");
    } else {
      redacted.append(param);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    redacted.push_back('&');
    rest.remove_prefix(amp + 1);
  }
  appendString(out, key, redacted);
}

void appendNumber(std::string* out, std::string_view key, uint64_t value) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  out->push_back('"');
  out->append(key);
  out->append("\":");
  out->append(buf, end);
}

// Milliseconds with microsecond precision; negative: null.
void appendMillis(std::string* out, std::string_view key, int64_t ns) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
  if (ns < 0) {
    out->append("null");
    return;
  }
  char buf[32];
  char* end = std::to_chars(buf, buf + 24, ns / 1000000).ptr;
  auto micros = static_cast<int>((ns / 1000) % 1000);
  end[0] = '.';
  end[1] = static_cast<char>('0' + micros / 100);
  end[2] = static_cast<char>('0' + micros / 10 % 10);
  end[3] = static_cast<char>('0' + micros % 10);
  out->append(buf, end + 4);
}

// "2024-05-01T12:00:00.123Z". The part up to the seconds is formatted once per second per
// thread.
void appendTime(std::string* out, uint64_t time_ns) {
  thread_local time_t cached_second = -1;
  thread_local char cached[24];
  auto second = static_cast<time_t>(time_ns / 1000000000);
  if (second != cached_second) {
    tm t{};
    gmtime_r(&second, &t);
    strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &t);
    cached_second = second;
  }
  auto millis = static_cast<int>((time_ns / 1000000) % 1000);
  const char ms[] = {'.', static_cast<char>('0' + millis / 100),
                     static_cast<char>('0' + millis / 10 % 10), static_cast<char>('0' + millis % 10),
                     'Z', 0};
  out->append("\"time\":\"");
  out->append(cached);
  out->append(ms);
  out->push_back('"');
}

uint64_t wallClockNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

void ExchangeRecord::begin(uint64_t now_ns) {
  start_ns = now_ns;
  upstream_start_ns = 0;
  upstream_end_ns = 0;
  bytes_out = 0;
  route = -1;
  status = 0;
  open = true;
  head = false;
  backend_len = 0;
}

void ExchangeRecord::setBackend(std::string_view address) {
  size_t n = address.size() < sizeof backend ? address.size() : sizeof backend;
  std::memcpy(backend, address.data(), n);
  backend_len = static_cast<uint8_t>(n);
}

void formatAccessLogLine(std::string* out, uint64_t time_ns, const ExchangeFacts& f,
                         std::string_view listener, std::string_view route,
                         std::string_view upstream, std::string_view backend,
                         uint64_t bytes_in, uint64_t bytes_out, uint64_t duration_ns,
                         int64_t upstream_duration_ns) {
  out->push_back('{');
  appendTime(out, time_ns);
  out->push_back(',');
  appendString(out, "request_id", f.request_id);
  out->push_back(',');
  appendString(out, "client", f.client);
  out->push_back(',');
  appendString(out, "listener", listener);
  out->push_back(',');
  appendString(out, "method", f.method);
  out->push_back(',');
  appendTarget(out, "path", f.path);
  out->push_back(',');
  appendNumber(out, "status", static_cast<uint64_t>(f.status));
  out->push_back(',');
  appendString(out, "route", route);
  out->push_back(',');
  appendString(out, "upstream", upstream);
  out->push_back(',');
  appendString(out, "backend", backend);
  out->push_back(',');
  appendNumber(out, "bytes_in", bytes_in);
  out->push_back(',');
  appendNumber(out, "bytes_out", bytes_out);
  out->push_back(',');
  appendMillis(out, "duration_ms", static_cast<int64_t>(duration_ns));
  out->push_back(',');
  appendMillis(out, "upstream_duration_ms", upstream_duration_ns);
  out->push_back(',');
  appendString(out, "tls", f.tls_version);
  out->push_back(',');
  appendString(out, "user", f.user);
  out->append("}\n");
}

void recordExchange(ExchangeRecord* r, const ExchangeFacts& facts, const Snapshot& snapshot,
                    const ListenerConfig& listener, WorkerMetrics* metrics, AccessLogSink* sink,
                    std::string* scratch) {
  if (!r->open) {
    return;
  }
  r->open = false;
  uint64_t now = uv_hrtime();
  uint64_t duration = now - r->start_ns;
  uint64_t bytes_in = r->read_total - r->read_recorded;
  r->read_recorded = r->read_total;
  const Config& config = snapshot.config();
  auto listener_index = static_cast<size_t>(&listener - config.listeners.data());
  if (metrics != nullptr) {
    metrics->countRequest(r->route, facts.status, duration);
    if (listener_index < metrics->listenerCount()) {
      metrics->listener(listener_index).bytes_in.add(bytes_in);
      metrics->listener(listener_index).bytes_out.add(r->bytes_out);
    }
  }
  if (sink == nullptr) {
    return;
  }
  std::string_view route_label;
  std::string_view upstream;
  thread_local std::string label;
  if (r->route >= 0 && static_cast<size_t>(r->route) < config.routes.size()) {
    auto index = static_cast<size_t>(r->route);
    label.clear();
    appendRouteLabel(&label, config.routes[index], index);
    route_label = label;
    upstream = snapshot.upstreamLabelOfRoute(index);  // "static" for a static route
  }
  int64_t upstream_ns = -1;
  if (r->upstream_start_ns != 0) {
    uint64_t end = r->upstream_end_ns != 0 ? r->upstream_end_ns : now;
    upstream_ns = static_cast<int64_t>(end - r->upstream_start_ns);
  }
  scratch->clear();
  formatAccessLogLine(scratch, wallClockNs() - duration, facts, listener.name, route_label,
                      upstream, std::string_view(r->backend, r->backend_len), bytes_in,
                      r->bytes_out, duration, upstream_ns);
  sink->append(*scratch);
}

}  // namespace balancer
