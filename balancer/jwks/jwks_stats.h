#pragma once

#include <atomic>
#include <cstdint>

namespace balancer::jwks {

// What the metrics show of key fetches (balancer_jwks_*). Written by the fetcher's thread,
// read at scrape time; owned by the server, so the counts go on when a reload replaces the
// fetcher.
struct JwksStats {
  std::atomic<uint64_t> fetches_ok{0};
  std::atomic<uint64_t> fetches_error{0};
  std::atomic<int64_t> keys{0};                  // in the set in use
  std::atomic<int64_t> last_success_seconds{0};  // Unix time of the last good fetch; 0: none
};

}  // namespace balancer::jwks
