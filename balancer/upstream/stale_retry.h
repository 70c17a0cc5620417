#pragma once

#include <cstddef>

namespace balancer {

// A request body up to this size is kept while it is sent on a pooled connection, so that it
// can be sent again when the backend closes that connection as the request arrives (its
// keep-alive timeout: Node 5 s, Go, Python). 64 KiB is the worker's read buffer: a body the
// size of one client read, which covers JSON writes and forms; the copy is bounded per
// in-flight request. Larger bodies are streamed without a copy and not replayed.
constexpr size_t kReplayBodyLimit = 64 * 1024;
// Fresh connections tried after stale pooled ones, per request (not counted in `retries`).
constexpr int kMaxStaleRetries = 3;

// What is known when a connection closes before any byte of the response.
struct StaleCloseFacts {
  bool reused = false;           // a pooled connection, not one opened for this request
  bool idempotent = false;       // the method (RFC 9110 9.2.2)
  bool idempotency_key = false;  // the request carries an Idempotency-Key
  bool body_sent = false;        // a byte of the body was written to that connection
  bool body_replayable = false;  // the whole body is kept and can be written again
  int stale_retries = 0;         // fresh connections tried so far for this request
};

// Whether the request is sent again on a fresh connection. Only a reused connection: a fresh
// one closing is the backend's answer. The request must be repeatable (an idempotent method,
// or an Idempotency-Key, as Go's net/http Transport decides): the backend may have processed
// it. And its body must be unsent, or whole and kept: what the client sent cannot be read again.
inline bool retriesStaleClose(const StaleCloseFacts& f) {
  return f.reused && (f.idempotent || f.idempotency_key) &&
         (!f.body_sent || f.body_replayable) && f.stale_retries < kMaxStaleRetries;
}

}  // namespace balancer
