#pragma once

#include <optional>
#include <string>

#include "balancer/access_log/exchange_record.h"
#include "balancer/exchange/exchange.h"
#include "balancer/exchange/exchange_buffers.h"

namespace balancer {

// What a connection holds only while it has a request: the exchange, the environment it runs
// in, its record for the metrics and the access log, its buffers and the input read past it. A session leases one
// from its worker when a request begins and gives it back once it is idle again, so an idle
// keep-alive connection holds none of it (about 1.5 KB), and a busy one reuses a warm slot
// without allocating.
struct ExchangeSlot {
  ExchangeBuffers buffers;
  ExchangeRecord record;
  ExchangeEnv env;
  // The codec's bytes read past the current request (HTTP/1.1 pipelining), parsed once the
  // exchange before them is done. Emptied when the slot is given back.
  std::string pending_input;
  // The current (or last) exchange, built in place for each request. It stays after it is
  // done until the next one begins or the slot goes back (a call of it may be on the stack).
  std::optional<Exchange> exchange;
};

}  // namespace balancer
