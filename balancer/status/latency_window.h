#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace balancer {

// A backend's answers over the last minute, for the status page: how many, and their latency
// distribution, in 12 slots of 5 s that are reused as time moves on. Written by every worker
// with relaxed atomic adds on the backend's own lines (the same cost class as its in-flight
// count); read by the admin thread. A slot being reset while a worker writes into it may lose
// that one count: the page shows a rate and a p99, not an audit.
class LatencyWindow {
 public:
  static constexpr int kSlots = 12;
  static constexpr int64_t kSlotMs = 5000;
  // Upper bounds in microseconds, from 100 µs to 10 s; the last bucket is everything above.
  static constexpr std::array<uint32_t, 16> kBoundsUs = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
      1000000, 2500000, 5000000, 10000000};

  void record(int64_t now_ms, uint64_t latency_us);

  struct Summary {
    uint64_t count = 0;       // answers in the window
    double seconds = 0;       // how long the window covers so far (up to 60 s)
    double p99_ms = 0;        // upper bound of the bucket holding the 99th percentile
  };
  Summary summarize(int64_t now_ms) const;

 private:
  struct Slot {
    std::atomic<int64_t> epoch{-1};  // now_ms / kSlotMs when the slot was last reset
    std::array<std::atomic<uint32_t>, kBoundsUs.size() + 1> buckets{};
  };
  std::array<Slot, kSlots> slots_{};
  std::atomic<int64_t> first_epoch_{-1};
};

}  // namespace balancer
