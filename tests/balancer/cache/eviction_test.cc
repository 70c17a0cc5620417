#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_set>
#include <vector>

#include "balancer/cache/lru.h"
#include "balancer/cache/s3_fifo.h"

using namespace balancer::cache;

namespace {

ObjectId idOf(uint64_t n) { return {{n, n * 31 + 7}, {0, 0}}; }

// A cache of `capacity` equal-sized objects run by `policy` over a trace; returns the hits.
size_t replay(EvictionPolicy& policy, size_t capacity, const std::vector<uint64_t>& trace,
              size_t from = 0) {
  std::unordered_set<uint64_t> cached;
  size_t hits = 0;
  for (size_t i = 0; i < trace.size(); ++i) {
    const uint64_t n = trace[i];
    if (cached.count(n) != 0) {
      policy.touch(idOf(n));
      hits += i >= from ? 1 : 0;
      continue;
    }
    policy.insert(idOf(n), 1);
    cached.insert(n);
    ObjectId victim;
    while (cached.size() > capacity && policy.evict(&victim)) {
      cached.erase(victim.primary.lo);
    }
  }
  return hits;
}

// Zipf(alpha) over `objects` keys, then a one-off scan of `scan` keys never seen again,
// interleaved with the skewed traffic (one scan request per skewed one), then skewed again.
std::vector<uint64_t> zipfWithScan(size_t objects, double alpha, size_t before, size_t scan,
                                   size_t after, uint64_t seed) {
  std::vector<double> cdf(objects);
  double sum = 0;
  for (size_t k = 0; k < objects; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k + 1), alpha);
    cdf[k] = sum;
  }
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0, sum);
  auto next = [&] {
    return static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), uniform(random)) -
                                 cdf.begin());
  };
  std::vector<uint64_t> trace;
  for (size_t i = 0; i < before; ++i) {
    trace.push_back(next());
  }
  for (size_t i = 0; i < scan; ++i) {
    trace.push_back(next());
    trace.push_back(1000000000 + i);  // each scanned key once
  }
  for (size_t i = 0; i < after; ++i) {
    trace.push_back(next());
  }
  return trace;
}

}  // namespace

TEST_CASE("LRU evicts the least recently used", "[cache]") {
  Lru lru;
  lru.insert(idOf(1), 1);
  lru.insert(idOf(2), 1);
  lru.insert(idOf(3), 1);
  lru.touch(idOf(1));
  ObjectId victim;
  REQUIRE(lru.evict(&victim));
  CHECK(victim == idOf(2));
  lru.erase(idOf(3));
  REQUIRE(lru.evict(&victim));
  CHECK(victim == idOf(1));
  CHECK_FALSE(lru.evict(&victim));
}

TEST_CASE("S3-FIFO: a new object read again survives a scan that evicts the others",
          "[cache]") {
  // Ten objects of 10 bytes fit; object 1 is read once right after it came in.
  S3Fifo fifo(100);
  std::vector<uint64_t> evicted;
  size_t held = 0;
  auto add = [&](uint64_t n) {
    fifo.insert(idOf(n), 10);
    ++held;
    ObjectId victim;
    while (held > 10 && fifo.evict(&victim)) {
      evicted.push_back(victim.primary.lo);
      --held;
    }
  };
  add(1);
  fifo.touch(idOf(1));
  for (uint64_t n = 2; n < 50; ++n) {
    add(n);
  }
  CHECK(evicted.size() == 39);
  CHECK(std::find(evicted.begin(), evicted.end(), 1) == evicted.end());
  // With LRU the same sequence evicts it: it was never read again.
  Lru lru;
  lru.insert(idOf(1), 10);
  lru.touch(idOf(1));
  for (uint64_t n = 2; n < 13; ++n) {
    lru.insert(idOf(n), 10);
  }
  ObjectId victim;
  REQUIRE(lru.evict(&victim));
  CHECK(victim == idOf(1));
}

TEST_CASE("S3-FIFO: an object evicted and seen again soon goes straight to the main queue",
          "[cache]") {
  S3Fifo fifo(100);
  fifo.insert(idOf(1), 10);
  ObjectId victim;
  REQUIRE(fifo.evict(&victim));  // small queue, never read: evicted, remembered
  CHECK(victim == idOf(1));
  fifo.insert(idOf(1), 10);  // back: main queue
  for (uint64_t n = 2; n < 5; ++n) {
    fifo.insert(idOf(n), 10);
  }
  // The small queue (30 bytes, over its 10) gives up its own objects first.
  REQUIRE(fifo.evict(&victim));
  CHECK(victim == idOf(2));
}

// Measured (20000 objects, 500k requests with a 100k one-off scan interleaved, hits counted
// after the first 100k requests):
//   zipf 0.9, cache 1%:  LRU 0.215, S3-FIFO 0.322    cache 10%: LRU 0.432, S3-FIFO 0.517
//   zipf 1.0, cache 1%:  LRU 0.324, S3-FIFO 0.428    cache 10%: LRU 0.532, S3-FIFO 0.601
TEST_CASE("S3-FIFO keeps hot objects under a scan: hit ratio against LRU (Zipf 0.9, 1.0)",
          "[cache][bench]") {
  for (double alpha : {0.9, 1.0}) {
    const size_t objects = 20000;
    const auto trace = zipfWithScan(objects, alpha, 200000, 100000, 200000, 42);
    for (size_t capacity : {objects / 100, objects / 10}) {
      Lru lru;
      S3Fifo fifo(capacity);
      // Hits after the warm-up (the first 100k requests).
      const size_t from = 100000;
      const double total = static_cast<double>(trace.size() - from);
      const double lru_ratio = static_cast<double>(replay(lru, capacity, trace, from)) / total;
      const double fifo_ratio = static_cast<double>(replay(fifo, capacity, trace, from)) / total;
      char line[160];
      std::snprintf(line, sizeof(line),
                    "zipf %.1f, cache %zu of %zu objects, scan 100k: LRU %.3f, S3-FIFO %.3f",
                    alpha, capacity, objects, lru_ratio, fifo_ratio);
      INFO(line);  // shown on failure, or with -s
      CHECK(fifo_ratio > lru_ratio);
    }
  }
}
