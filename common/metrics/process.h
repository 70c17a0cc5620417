#pragma once

#include "common/metrics/exposition.h"

namespace metrics {

// The process's own series, under the names every Prometheus client library uses:
// process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds (from getrusage, getrlimit and /proc).
void writeProcessMetrics(Exposition& out);

}  // namespace metrics
