#pragma once

#include <cstdint>

#include "balancer/upstream/backend.h"
#include "balancer/config.h"

// Passive health checking (outlier detection) and slow start. Workers report each response
// status and connect failure of a backend here; a backend that fails consecutive_failures
// times in a row is ejected (usable() turns false) for a time that doubles with each recent
// ejection. The main loop's Control brings it back once the time is over and, when the
// upstream has an active health check, a check has passed since the ejection began.
namespace balancer::outlier {

// Milliseconds of the steady clock, the time base of every *_ms field of Backend.
int64_t nowMs();

// base * 2^(n-1), capped at max; n >= 1 is the number of recent ejections, this one included.
Millis ejectionTime(const OutlierConfig& config, int n);

// How many of `total` backends may be ejected at once: max_ejection_percent of them, rounded
// down, but at least one when the percent is not 0 (else a small upstream could never eject).
int maxEjected(const OutlierConfig& config, size_t total);

// 500 from the backend itself and the gateway statuses 502, 503, 504 count as failures.
inline bool isFailureStatus(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

// Counts a connect failure (refused, unreachable, timed out). Worker threads; not the hot
// path: failures only.
void recordFailure(const Upstream& upstream, Backend* backend);

// Counts a response status. On a success it only reads the backend's failure count, and
// writes it only when it was not 0, so a healthy backend's line stays shared between workers.
inline void recordStatus(const Upstream& upstream, Backend* backend, int status) {
  if (!upstream.config->outlier_detection) {
    return;
  }
  if (isFailureStatus(status)) {
    recordFailure(upstream, backend);
  } else if (backend->consecutive_failures.load(std::memory_order_relaxed) != 0) {
    backend->consecutive_failures.store(0, std::memory_order_relaxed);
  }
}

// Ejects `backend` at `now_ms` unless it already is or the upstream is at its cap. Returns
// true when it ejected.
bool tryEject(const Upstream& upstream, Backend* backend, int64_t now_ms);

// Brings an ejected backend back when its time is over (and, with an active health check, a
// check passed since the ejection began). Returns true when it did. Main loop.
bool maybeReadmit(const Upstream& upstream, Backend* backend, int64_t now_ms);

// Slow start: the effective weight (scaled by Backend::kWeightScale) of a backend `elapsed_ms`
// into a ramp of `window_ms`: from 10% of `weight` up to all of it, linearly; never below 1.
int64_t slowStartWeight(int weight, int64_t elapsed_ms, int64_t window_ms);

// Begins a slow start at `now_ms` (a backend that came back or was added), or sets the full
// weight when the upstream has none.
void beginSlowStart(const Upstream& upstream, Backend* backend, int64_t now_ms);

// Moves a ramping backend's effective weight on; ends the ramp when the window is over.
void updateSlowStart(const Upstream& upstream, Backend* backend, int64_t now_ms);

}  // namespace balancer::outlier
