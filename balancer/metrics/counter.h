#pragma once

#include <atomic>
#include <cstdint>

namespace balancer {

// A counter with one writer (the thread that owns it) and any number of readers (a scrape).
// The owner does a relaxed load and store rather than a read-modify-write: on a cache line no
// other thread writes, that costs what a plain increment does, and readers never see a torn
// value.
class Counter {
 public:
  void add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Like Counter, but it may go down (connections open now).
class Gauge {
 public:
  void add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

}  // namespace balancer
