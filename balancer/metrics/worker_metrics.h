#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "balancer/metrics/counter.h"
#include "common/compress/encoding.h"

namespace balancer {

struct Config;

// Upper bounds of balancer_request_duration_seconds, from 100 us to 10 s.
inline constexpr std::array<double, 16> kDurationBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,     2.5,    5,     10};

// The reasons a token is refused, as balancer_jwt_rejected_total's `reason` label: the
// verifier's reasons, then the balancer's own ("missing", "forbidden_role"), then "other".
inline constexpr std::array<std::string_view, 13> kJwtReasons = {
    "malformed",    "bad_signature", "unknown_kid", "alg_mismatch", "expired",
    "not_yet_valid", "issued_in_future", "bad_issuer", "bad_audience", "too_large",
    "missing",      "forbidden_role", "other"};

// What the response cache did, as balancer_cache_requests_total's `result` label; in the order
// of filters::CacheResult (the X-Cache values).
inline constexpr std::array<std::string_view, 5> kCacheResultLabels = {
    "hit", "miss", "stale", "revalidated", "bypass"};

// Status codes 100..599 each have a slot.
inline constexpr int kMinStatus = 100;
inline constexpr int kStatusSlots = 500;

// One worker's counters, written only by that worker's thread and summed over the workers
// at scrape time. Sized from the configuration when the worker starts: routes (plus one slot
// for requests no route matched), upstreams and listeners are known then. Each block is
// cache-line aligned so two workers never write the same line.
class alignas(64) WorkerMetrics {
 public:
  struct alignas(64) Route {
    std::array<Counter, kStatusSlots> codes;
    std::array<Counter, kDurationBounds.size() + 1> duration_buckets;
    Counter duration_sum_ns;
    Counter rate_limited;
    Counter limit_unavailable;  // global limit checks Redis could not answer
    Counter headers_dropped;  // request headers not forwarded for a '_' in their name
    std::array<Counter, kJwtReasons.size()> jwt_rejected;
    // Response body bytes a compress filter took in and gave out, by encoding.
    std::array<Counter, compression::kEncodingCount> compress_in;
    std::array<Counter, compression::kEncodingCount> compress_out;
    std::array<Counter, kCacheResultLabels.size()> cache_results;  // by kCacheResultLabels
  };
  struct alignas(64) Upstream {
    Counter connect_errors;
    Counter retries;
    Counter connections_new;     // opened for a request
    Counter connections_reused;  // taken from the idle pool
  };
  struct alignas(64) Listener {
    Counter bytes_in;   // request bytes read from clients (after TLS)
    Counter bytes_out;  // response bytes queued to clients (before TLS)
    Counter tls_ok_12;
    Counter tls_ok_13;
    Counter tls_ok_other;
    Counter tls_failed;
    Counter connections_accepted;
    // proxy_protocol listeners: connections closed without a valid PROXY header
    Counter proxy_invalid;
    Counter proxy_timeout;
  };

  explicit WorkerMetrics(const Config& config);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  size_t routeCount() const { return routes_count_; }  // without the unmatched slot
  size_t upstreamCount() const { return upstreams_count_; }
  size_t listenerCount() const { return listeners_count_; }

  // route -1 (or out of range) is the slot of requests no route matched.
  Route& route(int index) {
    return routes_[index >= 0 && static_cast<size_t>(index) < routes_count_
                       ? static_cast<size_t>(index)
                       : routes_count_];
  }
  const Route& routeAt(size_t slot) const { return routes_[slot]; }  // slot routeCount(): none
  Upstream& upstream(size_t index) { return upstreams_[index]; }
  const Upstream& upstream(size_t index) const { return upstreams_[index]; }
  // An index out of range (a listener this block was not sized for) counts into a spare slot.
  Listener& listener(size_t index) {
    return listeners_[index < listeners_count_ ? index : listeners_count_];
  }
  const Listener& listener(size_t index) const { return listeners_[index]; }

  // Counts one answered request: its status code and how long it took.
  void countRequest(int route, int status, uint64_t duration_ns);
  void countJwtRejection(int route, std::string_view reason);
  void countRateLimited(int route) { this->route(route).rate_limited.add(); }
  void countLimitUnavailable(int route) { this->route(route).limit_unavailable.add(); }
  void countCompressed(int route, compression::Encoding encoding, uint64_t in, uint64_t out) {
    Route& r = this->route(route);
    r.compress_in[static_cast<size_t>(encoding)].add(in);
    r.compress_out[static_cast<size_t>(encoding)].add(out);
  }
  void countHeadersDropped(int route, size_t n) { this->route(route).headers_dropped.add(n); }
  void countCacheResult(int route, size_t result) {
    if (result < kCacheResultLabels.size()) {
      this->route(route).cache_results[result].add();
    }
  }
  // version: SSL_version(); 0 for a failed handshake.
  void countTlsHandshake(size_t listener, int version);

  Gauge client_connections;

 private:
  size_t routes_count_;
  size_t upstreams_count_;
  size_t listeners_count_;
  std::unique_ptr<Route[]> routes_;
  std::unique_ptr<Upstream[]> upstreams_;
  std::unique_ptr<Listener[]> listeners_;
};

}  // namespace balancer
