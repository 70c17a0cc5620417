#include "balancer/upstream/upstream_request.h"

#include <uv.h>

#include "balancer/access_log/exchange_record.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/outlier/outlier.h"
#include "balancer/upstream/stale_retry.h"
#include "balancer/upstream/upstream_connection.h"
#include "balancer/upstream/upstream_pool.h"
#include "common/http/output_queue.h"
#include "common/log/log.h"

namespace balancer {

namespace {

constexpr char kLastChunk[] = "0\r\n\r\n";

// Body bytes as they go on the wire: framed as a chunk when the body is chunked.
void appendBody(std::string* out, const char* data, size_t len, bool chunked) {
  if (chunked) {
    char buf[24];
    out->append(buf, http::formatChunkHeader(buf, len));
    out->append(data, len);
    out->append("\r\n");
  } else {
    out->append(data, len);
  }
}

UpstreamError upstreamError(int status, std::string_view message, bool retryable = false) {
  return UpstreamError{status, message, UpstreamError::Source::kUpstream, retryable};
}

}  // namespace

bool UpstreamRequest::dispatch(UpstreamError* error) {
  UpstreamPool* pool = setup_.pool;
  const UpstreamConfig& uc = pool->config();
  request_sent_ = false;
  for (;;) {
    int index = pool->pickBackend(tried_);
    if (index < 0) {
      if (status_retries_ > 0) {
        *error = upstreamError(502, "no backend left to retry on");  // one went down meanwhile
      } else if (connect_attempts_ > 0) {
        *error = upstreamError(502, "upstream connect failed", true);
      } else {
        *error = UpstreamError{503, "no healthy backend", UpstreamError::Source::kInternal, true};
      }
      return false;
    }
    Backend* backend = pool->backend(static_cast<size_t>(index));
    backend->in_flight.fetch_add(1, std::memory_order_relaxed);
    backend_index_ = index;
    backend_ = backend;
    ExchangeRecord& record = *setup_.record;
    record.setBackend(backend->address.text);
    if (record.upstream_start_ns == 0) {
      record.upstream_start_ns = uv_hrtime();
    }
    WorkerMetrics::Upstream& counters = *setup_.counters;
    if (retriesUsed() + stale_retries_ > 0) {
      counters.retries.add();  // a backend picked after a failed attempt
    }
    UpstreamConnection* conn = pool->acquire(static_cast<size_t>(index));
    (conn == nullptr ? counters.connect_errors
                     : conn->reused() ? counters.connections_reused : counters.connections_new)
        .add();
    if (conn == nullptr) {
      outlier::recordFailure(pool->upstream(), backend);
      releaseBackend();
      tried_.add(static_cast<size_t>(index));
      ++connect_attempts_;
      if (retriesUsed() <= uc.retries) {
        continue;  // no connection, so nothing was sent: safe for any method
      }
      *error = upstreamError(502, "upstream connect failed", true);
      return false;
    }
    conn_ = conn;
    conn->attach(setup_.listener, setup_.head_request, setup_.upgrade);
    return true;
  }
}

void UpstreamRequest::send() {
  http::OutputQueue& out = conn_->out();
  ExchangeBuffers& buf = *setup_.buffers;
  out.addRef(buf.upstream_head.data(), buf.upstream_head.size());
  if (!buf.early_body.empty()) {
    out.addRef(buf.early_body.data(), buf.early_body.size());
    body_sent_ = true;
    keep_body_ = keepsBody();  // a replay (stale_retry.h) sends it all from here again
  }
  request_sent_ = true;
  conn_->startResponseTimer(setup_.pool->config().request_timeout);
  flush();
}

void UpstreamRequest::forwardBody(const char* data, size_t len) {
  if (request_sent_ && conn_ != nullptr) {
    http::OutputQueue& out = conn_->out();
    if (setup_.chunked) {
      out.addChunkRef(data, len);
    } else {
      out.addRef(data, len);
    }
    if (!body_sent_) {
      body_sent_ = true;
      keep_body_ = keepsBody();
    }
    if (keep_body_) {
      keepBody(data, len);
    }
    return;
  }
  // Still connecting: keep the bytes; client reads are paused until the request is sent.
  appendBody(&setup_.buffers->early_body, data, len, setup_.chunked);
}

bool UpstreamRequest::keepsBody() const {
  return conn_->reused() && (setup_.idempotent || setup_.idempotency_key) &&
         setup_.buffers->early_body.size() <= kReplayBodyLimit;
}

void UpstreamRequest::keepBody(const char* data, size_t len) {
  std::string& kept = setup_.buffers->early_body;
  if (kept.size() + len > kReplayBodyLimit) {
    keep_body_ = false;  // too large to keep: streamed only, not replayed
    kept.clear();
    return;
  }
  appendBody(&kept, data, len, setup_.chunked);
}

void UpstreamRequest::endBody() {
  if (!setup_.chunked) {
    return;
  }
  if (request_sent_ && conn_ != nullptr) {
    conn_->out().addRef(kLastChunk, 5);
    if (keep_body_) {
      setup_.buffers->early_body.append(kLastChunk, 5);
    }
  } else {
    setup_.buffers->early_body.append(kLastChunk, 5);
  }
}

void UpstreamRequest::flushQueued() {
  UpstreamConnection* conn = conn_;
  // early_body, queued by reference, is written now. It stays (a kept one until the response
  // head, another until the session's next request): send() takes it again only for a
  // replay, which needs keep_body_.
  int r = conn->out().flush();
  if (r < 0) {
    conn->onOutputError(r);
  }
}

UpstreamRequest::Next UpstreamRequest::onFailure(UpstreamConnection* conn,
                                                 UpstreamFailure failure,
                                                 bool request_complete) {
  int failed_index = backend_index_;
  Backend* failed = backend_;  // alive: `conn` holds it
  dropConnection();
  const UpstreamConfig& uc = setup_.pool->config();
  const Upstream& upstream = setup_.pool->upstream();
  const char* request_id = setup_.request_id.data();
  const std::string& backend = failed->address.text;
  Next next;
  switch (failure) {
    case UpstreamFailure::kConnectFailed:
    case UpstreamFailure::kConnectTimeout: {
      bool refused = failure == UpstreamFailure::kConnectFailed;
      failed->countRequest(setup_.worker_id, true);
      outlier::recordFailure(upstream, failed);
      tried_.add(static_cast<size_t>(failed_index));
      LOG_WARN("request_id=%s upstream=%s backend=%s connect %s", request_id, uc.name.c_str(),
               backend.c_str(), refused ? "failed" : "timed out");
      setup_.counters->connect_errors.add();
      // The connection was never made, so not a byte of the request reached the backend: any
      // method is safe to send to another one (HAProxy's retry-on conn-failure, Envoy's
      // connect-failure). The body read so far is still whole in early_body, and the client
      // is not read from until a request is sent.
      // A replay's body sent on an earlier, stale connection is still whole in early_body.
      ++connect_attempts_;
      bool whole = !body_sent_ || (keep_body_ && request_complete);
      next.retry = whole && retriesUsed() <= uc.retries;
      next.error = upstreamError(refused ? 502 : 504,
                                 refused ? "upstream connect failed" : "upstream connect timeout",
                                 whole);
      return next;
    }
    case UpstreamFailure::kClosedEarly: {
      // A pooled connection the backend closed as we reused it (its keep-alive timeout): try
      // a fresh one when the request can be sent again whole and may be repeated.
      StaleCloseFacts facts;
      facts.reused = conn->reused();
      facts.idempotent = setup_.idempotent;
      facts.idempotency_key = setup_.idempotency_key;
      facts.body_sent = body_sent_;
      facts.body_replayable = keep_body_ && request_complete;
      facts.stale_retries = stale_retries_;
      if (retriesStaleClose(facts)) {
        ++stale_retries_;
        next.retry = true;
        return next;
      }
      failed->countRequest(setup_.worker_id, true);
      LOG_WARN("request_id=%s upstream=%s backend=%s closed before responding", request_id,
               uc.name.c_str(), backend.c_str());
      next.error = upstreamError(502, "upstream closed the connection");
      return next;
    }
    case UpstreamFailure::kBadResponse:
      failed->countRequest(setup_.worker_id, true);
      LOG_WARN("request_id=%s upstream=%s backend=%s sent an invalid response", request_id,
               uc.name.c_str(), backend.c_str());
      next.error = upstreamError(502, "invalid response from upstream");
      return next;
    case UpstreamFailure::kRetryableStatus: {
      // retriesOnStatus() said yes a moment ago, in the same loop turn.
      int status = conn->response().status();
      failed->countRequest(setup_.worker_id, true);
      outlier::recordStatus(upstream, failed, status);
      tried_.add(static_cast<size_t>(failed_index));
      ++status_retries_;
      LOG_WARN("request_id=%s upstream=%s backend=%s answered %d; sent to another backend",
               request_id, uc.name.c_str(), backend.c_str(), status);
      next.retry = true;
      return next;
    }
    case UpstreamFailure::kResponseTimeout:
      failed->countRequest(setup_.worker_id, true);
      LOG_WARN("request_id=%s upstream=%s backend=%s timed out", request_id, uc.name.c_str(),
               backend.c_str());
      next.error = upstreamError(504, "upstream timed out");
      return next;
  }
  return next;
}

bool UpstreamRequest::retriesOnStatus(int status, bool request_complete) const {
  if ((status != 502 && status != 503) || !setup_.idempotent || setup_.upgrade || body_sent_ ||
      !request_complete || backend_index_ < 0 ||
      retriesUsed() >= setup_.pool->config().retries) {
    return false;
  }
  // Only when another backend can take it: with none, the backend's own answer (its body,
  // its Retry-After) is worth more to the client than the balancer's 502.
  TriedSet tried = tried_;
  tried.add(static_cast<size_t>(backend_index_));
  return setup_.pool->hasCandidate(tried);
}

void UpstreamRequest::onResponseHead(int status) {
  if (keep_body_) {  // answered: the request is not sent again, its kept body is let go
    keep_body_ = false;
    setup_.buffers->early_body.clear();
  }
  if (backend_ == nullptr) {
    return;
  }
  backend_->countRequest(setup_.worker_id, status >= 500);
  outlier::recordStatus(setup_.pool->upstream(), backend_, status);
  uint64_t start_ns = setup_.record->upstream_start_ns;
  if (start_ns != 0) {  // the status page's rate and p99 (time to headers)
    uint64_t now_ns = uv_hrtime();
    backend_->latency.record(static_cast<int64_t>(now_ns / 1000000), (now_ns - start_ns) / 1000);
  }
}

void UpstreamRequest::finish(UpstreamConnection* conn, bool reusable) {
  conn_ = nullptr;
  releaseBackend();
  conn->detach();
  if (reusable) {
    setup_.pool->release(conn);
  } else {
    conn->close();
  }
}

void UpstreamRequest::abandon() {
  if (conn_ != nullptr) {
    conn_->detach();
    conn_->close();
    conn_ = nullptr;
  }
  releaseBackend();
}

void UpstreamRequest::dropConnection() {
  conn_ = nullptr;
  releaseBackend();
}

void UpstreamRequest::releaseBackend() {
  if (backend_ != nullptr) {
    backend_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
  backend_index_ = -1;
  backend_ = nullptr;
}

}  // namespace balancer
