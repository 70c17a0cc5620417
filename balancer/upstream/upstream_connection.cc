#include "balancer/upstream/upstream_connection.h"

#include "balancer/upstream/upstream_pool.h"
#include "balancer/worker/worker.h"
#include "common/http/read_switch.h"
#include "common/log/log.h"

namespace balancer {

namespace {
// Responses are not limited by size (they stream); their heads are, generously.
const http::ParserLimits* responseLimits() {
  static const http::ParserLimits kLimits = [] {
    http::ParserLimits limits;
    limits.max_header_bytes = 64 * 1024;
    limits.max_headers = 200;
    return limits;
  }();
  return &kLimits;
}
}  // namespace

UpstreamConnection::UpstreamConnection(Worker* worker, UpstreamPool* pool, size_t backend_index,
                                       std::shared_ptr<Backend> backend)
    : worker_(worker),
      pool_(pool),
      backend_index_(backend_index),
      backend_(std::move(backend)),
      parser_(http::Parser::Kind::kResponse, this, responseLimits()),
      out_(reinterpret_cast<uv_stream_t*>(&tcp_), this) {
  uv_tcp_init(worker_->loop(), &tcp_);
  uv_timer_init(worker_->loop(), &timer_);
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
  worker_->upstreamOpened();
}

int UpstreamConnection::connect(util::Millis timeout) {
  connect_req_.data = this;
  int r = uv_tcp_connect(&connect_req_, &tcp_, backend_->address.get(), &UpstreamConnection::onConnect);
  if (r != 0) {
    close();
    return r;
  }
  uv_timer_start(&timer_, &UpstreamConnection::onTimer, static_cast<uint64_t>(timeout.count()), 0);
  return 0;
}

void UpstreamConnection::attach(UpstreamListener* listener, bool head_request,
                                bool upgrade_request) {
  listener_ = listener;
  head_request_ = head_request;
  upgrade_request_ = upgrade_request;
  response_started_ = false;
  response_complete_ = false;
  if (state_ == State::kIdle) {
    state_ = State::kBusy;
  }
}

void UpstreamConnection::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  if (status == UV_ECANCELED || self->state_ == State::kClosed) {
    return;
  }
  uv_timer_stop(&self->timer_);
  if (status < 0) {
    self->fail(UpstreamFailure::kConnectFailed);
    return;
  }
  uv_tcp_nodelay(&self->tcp_, 1);
  self->state_ = State::kBusy;
  self->startReading();
  if (self->listener_ != nullptr) {
    self->listener_->onUpstreamConnected(self);
  } else {
    // The exchange went away while connecting: keep the connection for the next one.
    self->pool_->release(self);
  }
}

void UpstreamConnection::startReading() {
  http::setReading(reinterpret_cast<uv_stream_t*>(&tcp_), state_ != State::kClosed, &reading_,
                   &UpstreamConnection::onAlloc, &UpstreamConnection::onRead);
}

void UpstreamConnection::pauseReading() {
  http::setReading(reinterpret_cast<uv_stream_t*>(&tcp_), false, &reading_,
                   &UpstreamConnection::onAlloc, &UpstreamConnection::onRead);
}

void UpstreamConnection::resumeReading() { startReading(); }

void UpstreamConnection::startResponseTimer(util::Millis timeout) {
  uv_timer_start(&timer_, &UpstreamConnection::onTimer, static_cast<uint64_t>(timeout.count()), 0);
}

void UpstreamConnection::enterIdle(util::Millis idle_timeout) {
  state_ = State::kIdle;
  listener_ = nullptr;
  reused_ = true;
  parser_.reset();
  // Keep reading while idle: a backend closing the connection is noticed at once.
  startReading();
  uv_timer_start(&timer_, &UpstreamConnection::onTimer,
                 static_cast<uint64_t>(idle_timeout.count()), 0);
}

void UpstreamConnection::leaveIdle() {
  uv_timer_stop(&timer_);
  state_ = State::kBusy;
}

void UpstreamConnection::enterTunnel() {
  state_ = State::kTunnel;
  uv_timer_stop(&timer_);
}

void UpstreamConnection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  *buf = self->worker_->readBuffer();
}

void UpstreamConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConnection*>(stream->data);
  if (nread > 0) {
    self->handleRead(buf->base, static_cast<size_t>(nread));
  } else if (nread < 0) {
    self->handleEof(static_cast<int>(nread));
  }
}

void UpstreamConnection::handleRead(const char* data, size_t len) {
  switch (state_) {
    case State::kIdle:
    case State::kConnecting:
    case State::kClosed:
      close();  // bytes nobody asked for: the connection cannot be trusted
      return;
    case State::kTunnel:
      if (listener_ != nullptr) {
        listener_->onTunnelFromUpstream(data, len);
      }
      return;
    case State::kBusy:
      break;
  }
  if (listener_ == nullptr) {
    close();
    return;
  }
  if (response_started_) {
    last_read_ms_ = uv_now(worker_->loop());
  }
  http::Parser::Result result = parser_.execute(data, len);
  UpstreamListener* listener = listener_;
  if (retry_elsewhere_) {
    fail(UpstreamFailure::kRetryableStatus);  // the rest of this response is not wanted
    return;
  }
  switch (result.status) {
    case http::Parser::Status::kError:
      if (response_started_) {
        listener->onUpstreamAborted(this);
        close();
      } else {
        fail(UpstreamFailure::kBadResponse);
      }
      return;
    case http::Parser::Status::kUpgrade:
      listener->onUpstreamUpgraded(this, data + result.consumed, len - result.consumed);
      return;
    case http::Parser::Status::kPaused:
      // Paused only at the end of a response. Bytes after it were never asked for.
      parser_.resume();
      listener->onUpstreamComplete(this, parser_.keepAlive() && result.consumed == len);
      return;
    case http::Parser::Status::kOk:
      listener->onUpstreamReadDone(this);
      return;
  }
}

void UpstreamConnection::handleEof(int status) {
  if (state_ == State::kBusy && listener_ != nullptr) {
    UpstreamListener* listener = listener_;
    if (response_started_ && parser_.bodyEndsWithEof() && status == UV_EOF) {
      parser_.finish();
      if (response_complete_) {
        listener->onUpstreamComplete(this, false);
        return;
      }
    }
    if (response_started_) {
      listener->onUpstreamAborted(this);
      close();
    } else {
      fail(UpstreamFailure::kClosedEarly);
    }
    return;
  }
  if (state_ == State::kTunnel && listener_ != nullptr) {
    UpstreamListener* listener = listener_;
    listener_ = nullptr;
    listener->onTunnelClosedByUpstream();
  }
  close();
}

void UpstreamConnection::fail(UpstreamFailure failure) {
  UpstreamListener* listener = listener_;
  listener_ = nullptr;
  close();
  if (listener != nullptr) {
    listener->onUpstreamFailed(this, failure);
  }
}

int UpstreamConnection::onHeadersComplete() {
  if (listener_ == nullptr) {
    return -1;
  }
  int status = parser_.status();
  if (status == 101 && !upgrade_request_) {
    // Switching protocols nobody asked for (RFC 9110 section 15.2.2): a tunnel would follow
    // that the client cannot expect. An invalid response: 502.
    return -1;
  }
  if (status == 101) {
    uv_timer_stop(&timer_);  // a tunnel: the session's tunnel_idle watches it
    response_started_ = true;
  } else if (status >= 200) {
    response_started_ = true;
    last_read_ms_ = uv_now(worker_->loop());
    // The request_timeout timer goes on and becomes the read timer (onReadTimer re-arms it
    // for what is left); re-armed now only if it would fire after read_timeout.
    uint64_t read_ms = static_cast<uint64_t>(pool_->config().read_timeout.count());
    if (uv_timer_get_due_in(&timer_) > read_ms) {
      startResponseTimer(pool_->config().read_timeout);
    }
  }
  if (listener_->retriesOnStatus(status)) {
    retry_elsewhere_ = true;
    return kPause;  // handleRead hands the exchange back as soon as execute() returns
  }
  int r = listener_->onUpstreamHeaders(this);
  // Responses to HEAD, and 204 and 304, never have a body whatever Content-Length says
  // (RFC 9110 6.4.1); llhttp 8.1 would wait for one.
  if (r == 0 && status >= 200 && (head_request_ || status == 204 || status == 304)) {
    return kSkipBody;
  }
  return r;
}

int UpstreamConnection::onBody(const char* data, size_t len) {
  return listener_ != nullptr ? listener_->onUpstreamBody(data, len) : -1;
}

int UpstreamConnection::onMessageComplete() {
  if (parser_.status() == 101) {
    return 0;  // llhttp stops by itself with the tunnel's first bytes after the head
  }
  if (parser_.status() < 200) {
    return 0;  // an interim response (100 Continue): the final one follows
  }
  response_complete_ = true;
  return kPause;
}

void UpstreamConnection::onOutputDrained() {
  if (close_when_flushed_ && out_.queuedBytes() == 0) {
    close();
    return;
  }
  if (listener_ != nullptr) {
    listener_->onUpstreamDrained();
  }
}

void UpstreamConnection::onOutputError(int) {
  if (state_ == State::kTunnel && listener_ != nullptr) {
    UpstreamListener* listener = listener_;
    listener_ = nullptr;
    listener->onTunnelClosedByUpstream();
    close();
    return;
  }
  if (response_started_ && listener_ != nullptr) {
    listener_->onUpstreamAborted(this);
    close();
    return;
  }
  fail(UpstreamFailure::kClosedEarly);
}

void UpstreamConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<UpstreamConnection*>(timer->data);
  switch (self->state_) {
    case State::kConnecting:
      self->fail(UpstreamFailure::kConnectTimeout);
      return;
    case State::kBusy:
      if (self->response_started_) {
        self->onReadTimer();
        return;
      }
      self->fail(UpstreamFailure::kResponseTimeout);
      return;
    default:
      self->close();
      return;
  }
}

void UpstreamConnection::onReadTimer() {
  util::Millis timeout = pool_->config().read_timeout;
  uint64_t timeout_ms = static_cast<uint64_t>(timeout.count());
  uint64_t idle_ms = uv_now(worker_->loop()) - last_read_ms_;
  if (!reading_) {
    // Paused because the client does not take the response: not the backend's gap (the
    // session's client_write timeout watches the client).
    last_read_ms_ = uv_now(worker_->loop());
    startResponseTimer(timeout);
    return;
  }
  if (idle_ms < timeout_ms) {
    uv_timer_start(&timer_, &UpstreamConnection::onTimer, timeout_ms - idle_ms, 0);
    return;
  }
  LOG_WARN("backend=%s sent nothing of its response for %lld ms (read_timeout)",
           backend_->address.text.c_str(), static_cast<long long>(idle_ms));
  if (listener_ != nullptr) {
    listener_->onUpstreamAborted(this);  // the client sees the response cut, as it must
  }
  close();
}

void UpstreamConnection::closeWhenFlushed() {
  listener_ = nullptr;
  if (out_.queuedBytes() == 0) {
    close();
    return;
  }
  close_when_flushed_ = true;
  pauseReading();
}

void UpstreamConnection::close() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  listener_ = nullptr;
  pool_->forget(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &UpstreamConnection::onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &UpstreamConnection::onClose);
}

void UpstreamConnection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<UpstreamConnection*>(handle->data);
  if (--self->open_handles_ == 0) {
    Worker* worker = self->worker_;
    delete self;
    worker->upstreamClosed();
  }
}

}  // namespace balancer
