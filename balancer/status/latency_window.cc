#include "balancer/status/latency_window.h"

#include <algorithm>

namespace balancer {

void LatencyWindow::record(int64_t now_ms, uint64_t latency_us) {
  int64_t epoch = now_ms / kSlotMs;
  int64_t none = -1;
  first_epoch_.compare_exchange_strong(none, epoch, std::memory_order_relaxed);
  Slot& slot = slots_[static_cast<size_t>(epoch % kSlots)];
  int64_t seen = slot.epoch.load(std::memory_order_acquire);
  if (seen != epoch) {
    // The first writer of a new 5 s period empties the slot it takes over.
    if (slot.epoch.compare_exchange_strong(seen, epoch, std::memory_order_acq_rel)) {
      for (auto& b : slot.buckets) {
        b.store(0, std::memory_order_relaxed);
      }
    }
  }
  size_t i = 0;
  while (i < kBoundsUs.size() && latency_us > kBoundsUs[i]) {
    ++i;
  }
  slot.buckets[i].fetch_add(1, std::memory_order_relaxed);
}

LatencyWindow::Summary LatencyWindow::summarize(int64_t now_ms) const {
  int64_t epoch = now_ms / kSlotMs;
  std::array<uint64_t, kBoundsUs.size() + 1> totals{};
  Summary out;
  for (const Slot& slot : slots_) {
    int64_t e = slot.epoch.load(std::memory_order_acquire);
    if (e < 0 || e > epoch || epoch - e >= kSlots) {
      continue;  // empty, or older than a minute
    }
    for (size_t i = 0; i < totals.size(); ++i) {
      uint32_t n = slot.buckets[i].load(std::memory_order_relaxed);
      totals[i] += n;
      out.count += n;
    }
  }
  int64_t first = first_epoch_.load(std::memory_order_relaxed);
  if (first >= 0) {
    // The current slot counts for the part of it that has passed.
    int64_t start_ms = std::max(first, epoch - kSlots + 1) * kSlotMs;
    out.seconds = static_cast<double>(std::max<int64_t>(now_ms - start_ms, 1000)) / 1000.0;
  }
  if (out.count == 0) {
    return out;
  }
  uint64_t target = (out.count * 99 + 99) / 100;  // ceil(0.99 * count)
  uint64_t cumulative = 0;
  for (size_t i = 0; i < totals.size(); ++i) {
    cumulative += totals[i];
    if (cumulative >= target) {
      out.p99_ms = i < kBoundsUs.size() ? kBoundsUs[i] / 1000.0 : kBoundsUs.back() / 1000.0;
      break;
    }
  }
  return out;
}

}  // namespace balancer
