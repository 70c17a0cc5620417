#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "balancer/rate_limit/local_limiter.h"

using namespace balancer::rate_limit;

TEST_CASE("keys have their own buckets") {
  LocalLimiter limiter;
  Limit limit{1, 2};
  CHECK(limiter.check("r:10.0.0.1", limit, 0).allowed);
  CHECK(limiter.check("r:10.0.0.1", limit, 0).allowed);
  CHECK_FALSE(limiter.check("r:10.0.0.1", limit, 0).allowed);
  CHECK(limiter.check("r:10.0.0.2", limit, 0).allowed);
  CHECK(limiter.check("r:10.0.0.1", limit, 1000).allowed);
  CHECK(limiter.size() == 2);
}

TEST_CASE("threads checking at once share one bucket exactly") {
  LocalLimiter limiter;
  Limit limit{1, 500};
  constexpr int kThreads = 8;
  constexpr int kChecksEach = 2000;
  std::atomic<int> allowed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (int i = 0; i < kChecksEach; ++i) {
        // No time passes: only the burst can be allowed, whatever the interleaving.
        if (limiter.check("route:shared", limit, 1000).allowed) {
          ++allowed;
        }
        limiter.check("thread:" + std::to_string(t) + ":" + std::to_string(i % 50), limit, 1000);
      }
    });
  }
  go = true;
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(allowed.load() == 500);
  CHECK(limiter.size() == 1 + kThreads * 50);
}

TEST_CASE("the table stays within max_buckets however many keys arrive") {
  LocalLimiter limiter(LocalLimiter::Options{4, 64});
  Limit limit{1, 10};  // a bucket takes 10 s to refill: none is full during this test
  for (int i = 0; i < 10000; ++i) {
    limiter.check("ip:" + std::to_string(i), limit, i / 10);
    REQUIRE(limiter.size() <= 64);
  }
  CHECK(limiter.size() >= 32);
}

TEST_CASE("eviction drops refilled buckets before any that still counts") {
  LocalLimiter limiter(LocalLimiter::Options{1, 8});
  Limit slow{1, 3};
  Limit fast{1000, 3};  // full again 1 ms after a check
  for (int i = 0; i < 3; ++i) {
    limiter.check("hot", slow, 0);
  }
  for (int i = 0; i < 7; ++i) {
    limiter.check("cold:" + std::to_string(i), fast, 0);
  }
  CHECK(limiter.size() == 8);
  limiter.check("new", fast, 100);  // at the cap: the seven cold buckets go
  CHECK(limiter.size() == 2);
  CHECK_FALSE(limiter.check("hot", slow, 100).allowed);  // its empty bucket was kept
}

TEST_CASE("when nothing has refilled, the buckets nearest to full go first") {
  LocalLimiter limiter(LocalLimiter::Options{1, 8});
  Limit limit{1, 5};
  for (int i = 0; i < 5; ++i) {
    limiter.check("drained", limit, 0);  // full again at 5000
  }
  for (int i = 0; i < 7; ++i) {
    limiter.check("once:" + std::to_string(i), limit, 0);  // full again at 1000
  }
  limiter.check("new", limit, 10);
  CHECK(limiter.size() <= 7);
  CHECK_FALSE(limiter.check("drained", limit, 10).allowed);
}
