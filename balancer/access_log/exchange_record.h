#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace balancer {

class AccessLogSink;
class Snapshot;
class WorkerMetrics;
struct ListenerConfig;

// What a session learns about its current exchange (one request and its response) for the
// metrics and the access log. Plain fields, written by the session's worker only.
struct ExchangeRecord {
  uint64_t start_ns = 0;           // the request's first byte (uv_hrtime)
  uint64_t upstream_start_ns = 0;  // first backend chosen
  uint64_t upstream_end_ns = 0;    // its response complete, or failed
  uint64_t read_total = 0;         // request bytes read on this connection so far
  uint64_t read_recorded = 0;      // ... of which earlier exchanges took
  uint64_t bytes_out = 0;          // response bytes queued to the client
  int route = -1;                  // index in the config's routes; -1: none matched
  int status = 0;                  // the response's status, once known
  bool open = false;               // begun and not yet recorded
  bool head = false;               // the request head was parsed: method and path known
  uint8_t backend_len = 0;
  char backend[64];                // the last backend chosen, copied: it may be removed

  // A new exchange begins (the first byte of a request).
  void begin(uint64_t now_ns);
  void setBackend(std::string_view address);
};

// Facts about the exchange that the session holds elsewhere; empty when unknown.
struct ExchangeFacts {
  int status = 0;
  std::string_view method;
  std::string_view path;
  std::string_view request_id;
  std::string_view client;
  std::string_view user;
  std::string_view tls_version;
};

// Records a finished exchange: counts it in `metrics` and, when `sink` is not null, appends
// its access log line. Closes the record (later calls do nothing until begin()).
void recordExchange(ExchangeRecord* record, const ExchangeFacts& facts, const Snapshot& snapshot,
                    const ListenerConfig& listener, WorkerMetrics* metrics, AccessLogSink* sink,
                    std::string* scratch);

// Appends one access log line (JSON, ending in '\n') to `out`. `time_ns` is the wall-clock
// time of the request's first byte. Exposed for tests.
void formatAccessLogLine(std::string* out, uint64_t time_ns, const ExchangeFacts& facts,
                         std::string_view listener, std::string_view route,
                         std::string_view upstream, std::string_view backend,
                         uint64_t bytes_in, uint64_t bytes_out, uint64_t duration_ns,
                         int64_t upstream_duration_ns);

}  // namespace balancer
