#include <catch2/catch.hpp>

#include "balancer/rate_limit/token_bucket.h"

using namespace balancer::rate_limit;

TEST_CASE("a full bucket allows a burst, then refuses until a token is back") {
  Limit limit{10, 5};  // 10/s: one token per 100 ms
  Bucket b = fullBucket(limit, 0);
  for (int64_t i = 0; i < 5; ++i) {
    Decision d = take(b, limit, 0);
    CHECK(d.allowed);
    CHECK(d.remaining == 4 - i);
    CHECK(d.retry_after_ms == 0);
    CHECK(d.reset_ms == (i + 1) * 100);  // until the bucket is full again
  }
  for (int i = 0; i < 3; ++i) {
    Decision d = take(b, limit, 0);
    CHECK_FALSE(d.allowed);
    CHECK(d.remaining == 0);
    CHECK(d.retry_after_ms == 100);
    CHECK(d.reset_ms == 500);
  }
  Decision half = take(b, limit, 40);
  CHECK_FALSE(half.allowed);
  CHECK(half.retry_after_ms == 60);

  CHECK(take(b, limit, 100).allowed);  // exactly when retry_after said
  CHECK_FALSE(take(b, limit, 100).allowed);
  CHECK(take(b, limit, 250).allowed);  // 1.5 tokens came back, one taken
  CHECK_FALSE(take(b, limit, 250).allowed);
  CHECK(take(b, limit, 250).retry_after_ms == 50);
}

TEST_CASE("a bucket refills to its burst and no further") {
  Limit limit{10, 5};
  Bucket b = fullBucket(limit, 0);
  for (int i = 0; i < 5; ++i) {
    take(b, limit, 0);
  }
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    allowed += take(b, limit, 60'000).allowed ? 1 : 0;
  }
  CHECK(allowed == 5);
}

TEST_CASE("slow rates keep their promise to the millisecond") {
  Limit limit{1.0 / 6, 2};  // 10/m: one token every 6 s
  Bucket b = fullBucket(limit, 1000);
  CHECK(take(b, limit, 1000).allowed);
  CHECK(take(b, limit, 1000).allowed);
  Decision d = take(b, limit, 1000);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_ms == 6000);
  CHECK(d.reset_ms == 12000);
  CHECK(take(b, limit, 6999).retry_after_ms == 1);
  CHECK(take(b, limit, 7000).allowed);
}

TEST_CASE("a clock going backwards refills nothing") {
  Limit limit{10, 2};
  Bucket b = fullBucket(limit, 5000);
  take(b, limit, 5000);
  take(b, limit, 5000);
  CHECK_FALSE(take(b, limit, 1000).allowed);
  CHECK(b.updated_ms == 5000);
  CHECK(take(b, limit, 5100).allowed);
}

TEST_CASE("a lowered burst caps a bucket saved under the old one") {
  Bucket b = fullBucket(Limit{10, 50}, 0);
  Decision d = take(b, Limit{10, 3}, 0);
  CHECK(d.allowed);
  CHECK(d.remaining == 2);
}

TEST_CASE("header values are whole seconds, rounded up") {
  Decision denied;
  denied.retry_after_ms = 100;
  denied.reset_ms = 1500;
  CHECK(retryAfterSeconds(denied) == 1);
  CHECK(resetSeconds(denied) == 2);
  denied.retry_after_ms = 2001;
  CHECK(retryAfterSeconds(denied) == 3);
  Decision allowed;
  allowed.allowed = true;
  CHECK(retryAfterSeconds(allowed) == 0);
  CHECK(resetSeconds(allowed) == 0);
}
