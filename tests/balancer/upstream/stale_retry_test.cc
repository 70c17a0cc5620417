#include <catch2/catch.hpp>

#include "balancer/upstream/stale_retry.h"

using namespace balancer;

namespace {
// A PUT whose whole body was sent on a pooled connection and kept: the case to retry.
StaleCloseFacts replayablePut() {
  StaleCloseFacts f;
  f.reused = true;
  f.idempotent = true;
  f.body_sent = true;
  f.body_replayable = true;
  return f;
}
}  // namespace

TEST_CASE("stale close: a whole kept body of an idempotent request is sent again") {
  CHECK(retriesStaleClose(replayablePut()));
  StaleCloseFacts get;
  get.reused = true;
  get.idempotent = true;
  CHECK(retriesStaleClose(get));  // no body: as before
}

TEST_CASE("stale close: a non-idempotent request only with an Idempotency-Key") {
  StaleCloseFacts post = replayablePut();
  post.idempotent = false;
  CHECK_FALSE(retriesStaleClose(post));  // it may have been processed
  post.idempotency_key = true;
  CHECK(retriesStaleClose(post));
}

TEST_CASE("stale close: a body sent and not kept whole is never sent again") {
  StaleCloseFacts f = replayablePut();
  f.body_replayable = false;  // past kReplayBodyLimit, or the client still sending it
  CHECK_FALSE(retriesStaleClose(f));
  f.idempotency_key = true;
  CHECK_FALSE(retriesStaleClose(f));
}

TEST_CASE("stale close: a fresh connection's close is an answer, and the tries are bounded") {
  StaleCloseFacts f = replayablePut();
  f.reused = false;
  CHECK_FALSE(retriesStaleClose(f));
  f = replayablePut();
  f.stale_retries = kMaxStaleRetries - 1;
  CHECK(retriesStaleClose(f));
  f.stale_retries = kMaxStaleRetries;
  CHECK_FALSE(retriesStaleClose(f));
}
