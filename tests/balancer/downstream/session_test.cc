#include "balancer/downstream/session.h"

#include <catch2/catch.hpp>

// perf/compare holds 10,000 idle keep-alive connections and measures the balancer's memory per
// connection; each holds one Session. Its exchange (the exchange itself, its environment,
// record, buffers and pipelined input) lives in an ExchangeSlot leased only while a request
// runs, so the Session is its socket, timer, request parser and output queue plus a little.
TEST_CASE("a session holds no exchange state: its own handles, parser and queue, and a little") {
  constexpr size_t kParts = sizeof(uv_tcp_t) + sizeof(uv_timer_t) + sizeof(http::Parser) +
                            sizeof(http::OutputQueue);
  constexpr size_t kRest = sizeof(balancer::Session) - kParts;
  CAPTURE(sizeof(balancer::Session), kRest);
  // 216 bytes today (x86-64): the interfaces' vtable pointers, a few pointers and counters,
  // the client address as text. An exchange (776), its record (128) or environment (96)
  // does not fit besides; before the slots it was 1,328.
  CHECK(kRest <= 256);
}
