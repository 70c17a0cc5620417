#pragma once

#include <cstddef>
#include <string_view>

#include "balancer/metrics/worker_metrics.h"
#include "balancer/upstream/policy.h"
#include "balancer/upstream/upstream_error.h"
#include "balancer/upstream/upstream_listener.h"
#include "balancer/upstream/upstream_connection.h"

namespace balancer {

struct Backend;
class UpstreamPool;
struct ExchangeBuffers;
struct ExchangeRecord;

// One request's way to its upstream: it picks a backend, takes a pooled connection (or opens
// one), sends the head and streams the body, and decides the retries. A request is sent again
// to another backend when no byte of it can have been used: after a connect failure (any
// method), after a pooled connection turned out closed (repeatable, its body unsent or kept
// whole: stale_retry.h), and in
// place of a 502/503 answer (idempotent, whole, no body) while `retries` allows and another
// backend can take it. Everything else ends in an UpstreamError the exchange answers with.
class UpstreamRequest {
 public:
  // What the request needs of its exchange, given once the exchange is routed.
  struct Setup {
    UpstreamPool* pool = nullptr;
    UpstreamListener* listener = nullptr;  // the connection's events go there
    ExchangeBuffers* buffers = nullptr;    // upstream_head, early_body
    ExchangeRecord* record = nullptr;      // the chosen backend and the upstream timing
    WorkerMetrics::Upstream* counters = nullptr;
    int worker_id = 0;
    std::string_view request_id;  // for log lines; lives as long as the exchange
    bool idempotent = false;
    bool idempotency_key = false;  // a non-idempotent request with an Idempotency-Key
    bool head_request = false;
    bool upgrade = false;
    bool chunked = false;  // the request body is chunked: forwarded as chunks
  };
  // What to do after a failure before the response head.
  struct Next {
    bool retry = false;   // dispatch() again: another backend (or a fresh connection)
    UpstreamError error;  // else: the answer
  };

  // The setup, filled in place once the exchange is routed (this runs for every request).
  Setup& setup() { return setup_; }
  bool routed() const { return setup_.pool != nullptr; }
  UpstreamPool* pool() const { return setup_.pool; }
  UpstreamConnection* conn() const { return conn_; }
  Backend* backend() const { return backend_; }
  bool requestSent() const { return request_sent_; }
  bool bodySent() const { return body_sent_; }

  // Picks a backend and takes a connection to it, trying another while connects fail at
  // once and retries allow. Returns false with `*error` set when no backend can take it;
  // else conn() is set (connected or connecting: send() when it is).
  bool dispatch(UpstreamError* error);
  // The connection is up: queues the head and the body read meanwhile, and writes them.
  void send();
  // A piece of the request body: queued on the connection once the head is sent, kept
  // until then (the client is not read from while it connects, so this is one read).
  void forwardBody(const char* data, size_t len);
  // The whole request body was read: the last chunk of a chunked one.
  void endBody();
  // Writes what is queued for the backend.
  void flush() {
    if (conn_ != nullptr && conn_->connected() && !conn_->out().empty()) {
      flushQueued();
    }
  }
  // Whether the connection takes more of the body now (backpressure).
  bool takesBody() const {
    return request_sent_ && conn_ != nullptr && !conn_->out().aboveHighWater();
  }

  // A failure the connection reported before a response head: the backend is released and
  // counted, and the answer says whether to dispatch() again. `request_complete`: the client
  // sent the whole request (a kept body can then be sent again).
  Next onFailure(UpstreamConnection* conn, UpstreamFailure failure, bool request_complete);
  // Whether a final response head with `status` is dropped and the request sent to another
  // backend instead: a 502 or 503 to an idempotent request that is whole and had no body
  // sent, with retries left and another backend to pick. Changes nothing.
  bool retriesOnStatus(int status, bool request_complete) const;
  // The response head arrived: the backend's request count, outlier status and latency.
  void onResponseHead(int status);
  // The response is whole: the connection goes back to the pool when it can carry another.
  void finish(UpstreamConnection* conn, bool reusable);
  // Gives up: closes the connection that holds part of the request (it must never take it
  // for a whole one) and releases the backend.
  void abandon();
  // Forgets the connection (it closed, or closes by itself) and releases the backend.
  void dropConnection();
  // Releases the backend's in-flight count.
  void releaseBackend();

 private:
  void flushQueued();
  // Whether the body sent on conn_ is kept whole in early_body for a replay: only a pooled
  // connection may turn out stale, and only a repeatable request is sent again.
  bool keepsBody() const;
  // Adds body bytes to the copy in early_body, or gives the copy up past kReplayBodyLimit.
  void keepBody(const char* data, size_t len);
  // Counted against the upstream's `retries`.
  int retriesUsed() const { return connect_attempts_ + status_retries_; }

  Setup setup_;
  int backend_index_ = -1;
  Backend* backend_ = nullptr;  // picked, counted in its in_flight; kept alive by the pool/conn
  UpstreamConnection* conn_ = nullptr;
  TriedSet tried_;
  int connect_attempts_ = 0;  // failed connects, each retried while retries allows
  int status_retries_ = 0;    // 502/503 answers dropped and retried (share `retries`)
  int stale_retries_ = 0;     // not counted against `retries`: nothing reached a backend
  bool request_sent_ = false;
  bool body_sent_ = false;
  bool keep_body_ = false;  // early_body holds all of the body sent so far (stale_retry.h)
};

}  // namespace balancer
