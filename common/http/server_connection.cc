#include "common/http/server_connection.h"

#include "common/http/read_switch.h"
#include "common/http/status.h"

namespace http {

namespace {
constexpr util::Millis kLingerTimeout{2000};
uv_stream_t* asStream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
}  // namespace

ServerConnection::ServerConnection(Server* server, uv_loop_t* loop)
    : server_(server),
      tcp_(new uv_tcp_t),
      parser_(Parser::Kind::kRequest, this, &server->options_.limits),
      out_(asStream(tcp_), this) {
  uv_tcp_init(loop, tcp_);
  uv_timer_init(loop, &timer_);
  tcp_->data = this;
  timer_.data = this;
  open_handles_ = 2;
}

int ServerConnection::start(uv_stream_t* listener) {
  self_ = shared_from_this();
  int r = uv_accept(listener, asStream(tcp_));
  if (r != 0) {
    close();
    return r;
  }
  uv_tcp_nodelay(tcp_, 1);
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    util::formatIp(reinterpret_cast<sockaddr*>(&peer), client_ip_, sizeof client_ip_);
  }
  startTimer(server_->options_.header_timeout);
  updateReading();
  return 0;
}

void ServerConnection::onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  // Parsed at once and copied where kept, so one buffer serves every connection of a thread.
  thread_local char buffer[64 * 1024];
  *buf = uv_buf_init(buffer, sizeof buffer);
}

void ServerConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ServerConnection*>(stream->data);
  if (nread > 0) {
    if (self->closing_) {
      return;  // lingering: what the client still sends is dropped
    }
    if (self->waiting_handler_ || !self->pending_input_.empty()) {
      self->pending_input_.append(buf->base, static_cast<size_t>(nread));
      self->updateReading();
      return;
    }
    self->parse(buf->base, static_cast<size_t>(nread), false);
  } else if (nread < 0) {
    if (nread == UV_EOF && self->waiting_handler_) {
      self->keep_alive_ = false;  // half-closed: the answer still goes out
      self->reading_ = false;
      uv_read_stop(stream);
      return;
    }
    self->close();
  }
}

void ServerConnection::parse(const char* data, size_t len, bool from_pending) {
  Parser::Result r = parser_.execute(data, len);
  switch (r.status) {
    case Parser::Status::kError: {
      ParseError e = parser_.error();
      replyError(e == ParseError::kHeadersTooLarge ? 431
                 : e == ParseError::kBodyTooLarge  ? 413
                                                   : 400,
                 e == ParseError::kHeadersTooLarge ? "request header fields too large"
                 : e == ParseError::kBodyTooLarge  ? "request body too large"
                                                   : "malformed request");
      return;
    }
    case Parser::Status::kPaused:
    case Parser::Status::kUpgrade: {
      std::string rest(data + r.consumed, len - r.consumed);
      pending_input_ = std::move(rest);
      dispatch();
      return;
    }
    case Parser::Status::kOk:
      if (from_pending) {
        pending_input_.clear();
      }
      updateReading();
      return;
  }
}

int ServerConnection::onMessageBegin() {
  in_message_ = true;
  startTimer(server_->options_.header_timeout);
  return 0;
}

int ServerConnection::onHeadersComplete() {
  uv_timer_stop(&timer_);
  request_.method = parser_.method();
  request_.method_name = parser_.methodName();
  request_.target = parser_.target();
  size_t q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  request_.query = q == std::string_view::npos ? std::string_view() : request_.target.substr(q + 1);
  request_.headers = &parser_.headers();
  request_.client_ip = client_ip_;
  request_.body.clear();
  upgrade_request_ = parser_.upgrade();
  request_.upgrade = upgrade_request_;
  // What follows an upgrade request is another protocol: served by whoever takes the
  // connection over, never read as the next request.
  keep_alive_ = parser_.keepAlive() && !upgrade_request_;
  if (parser_.hasContentLength()) {
    request_.body.reserve(parser_.contentLength());
  }
  return 0;
}

int ServerConnection::onBody(const char* data, size_t len) {
  request_.body.append(data, len);
  return 0;
}

int ServerConnection::onMessageComplete() {
  in_message_ = false;
  return kPause;  // one request at a time: the handler answers before the next is read
}

void ServerConnection::dispatch() {
  waiting_handler_ = true;
  updateReading();
  ++exchange_;
  server_->handler_(request_, Responder(weak_from_this(), exchange_));
}

void ServerConnection::send(uint64_t exchange, Response response) {
  if (closed_ || closing_ || !waiting_handler_ || exchange != exchange_) {
    return;
  }
  waiting_handler_ = false;
  if (server_->options_.on_response) {
    server_->options_.on_response(request_, response.status);
  }
  bool close_after = response.close || !keep_alive_ || draining_;
  write(response, close_after);
  if (close_after) {
    closeWhenFlushed();
    return;
  }
  parser_.resume();
  startTimer(server_->options_.idle_timeout);
  if (!pending_input_.empty()) {
    std::string input;
    input.swap(pending_input_);
    parse(input.data(), input.size(), false);
    return;
  }
  updateReading();
}

void ServerConnection::upgrade(uint64_t exchange, Response response, Takeover takeover) {
  if (closed_ || closing_ || !waiting_handler_ || exchange != exchange_) {
    takeover(UpgradedStream());
    return;
  }
  if (!upgrade_request_) {
    send(exchange,
         Response::json(500, "{\"error\":\"upgrade of a request that asked for none\"}\n"));
    takeover(UpgradedStream());
    return;
  }
  waiting_handler_ = false;
  if (server_->options_.on_response) {
    server_->options_.on_response(request_, response.status);
  }
  upgrading_ = true;
  takeover_ = std::move(takeover);
  write(response, false);  // on failure it closes, and close() tells takeover_
  if (closed_) {
    return;
  }
  if (out_.queuedBytes() > 0) {
    startTimer(kLingerTimeout);  // onOutputDrained hands over; a stuck client is closed
    return;
  }
  handOver();
}

void ServerConnection::handOver() {
  upgrading_ = false;
  uv_timer_stop(&timer_);
  if (reading_) {
    reading_ = false;
    uv_read_stop(asStream(tcp_));
  }
  tcp_->data = nullptr;
  UpgradedStream stream(std::exchange(tcp_, nullptr), std::move(pending_input_), server_);
  Takeover takeover = std::move(takeover_);
  takeover_ = nullptr;
  // The socket is no longer ours: only the timer is left to close.
  closed_ = true;
  closing_ = true;
  --open_handles_;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ServerConnection::onClose);
  takeover(std::move(stream));
}

void ServerConnection::write(const Response& response, bool close_after) {
  head_.clear();
  head_.append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
  head_.append(reasonPhrase(response.status)).append("\r\n");
  // 1xx, 204 and 304 have no body and so no framing (RFC 9110 8.6).
  bool no_body = response.status < 200 || response.status == 204 || response.status == 304;
  if (!no_body) {
    if (!response.content_type.empty()) {
      head_.append("Content-Type: ").append(response.content_type).append("\r\n");
    }
    head_.append("Content-Length: ").append(std::to_string(response.body.size())).append("\r\n");
  }
  for (const auto& [name, value] : response.headers) {
    head_.append(name).append(": ").append(value).append("\r\n");
  }
  if (close_after) {
    head_.append("Connection: close\r\n");
  }
  head_.append("\r\n");
  out_.addCopy(head_);
  if (request_.method != HTTP_HEAD && !no_body) {
    out_.addRef(response.body.data(), response.body.size());  // flushed before we return
  }
  int r = out_.flush();
  if (r < 0) {
    close();
  }
}

void ServerConnection::replyError(int status, const char* message) {
  Response r = Response::json(status, std::string("{\"error\":\"") + message + "\"}\n");
  waiting_handler_ = false;
  write(r, true);
  closeWhenFlushed();
}

void ServerConnection::drain() {
  draining_ = true;
  if (!waiting_handler_ && !in_message_ && !upgrading_) {
    close();
  }
}

void ServerConnection::updateReading() {
  bool want = !closed_ && (closing_ || (!waiting_handler_ && !upgrading_ &&
                                        pending_input_.empty() && !out_.aboveHighWater()));
  setReading(asStream(tcp_), want, &reading_, &ServerConnection::onAlloc,
             &ServerConnection::onRead);
}

void ServerConnection::closeWhenFlushed() {
  closing_ = true;
  if (out_.queuedBytes() > 0) {
    startTimer(kLingerTimeout);
    return;  // onOutputDrained comes back here
  }
  // Half-close and drop what still arrives, so unread bytes do not reset the answer away.
  auto* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, asStream(tcp_), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
    close();
    return;
  }
  startTimer(kLingerTimeout);
  updateReading();
}

void ServerConnection::onOutputDrained() {
  if (upgrading_ && !closed_) {
    if (out_.queuedBytes() == 0) {
      handOver();
    }
    return;
  }
  if (closing_ && out_.queuedBytes() == 0) {
    closeWhenFlushed();
    return;
  }
  updateReading();
}

void ServerConnection::onOutputError(int) { close(); }

void ServerConnection::startTimer(util::Millis timeout) {
  uv_timer_start(&timer_, &ServerConnection::onTimer, static_cast<uint64_t>(timeout.count()), 0);
}

void ServerConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ServerConnection*>(timer->data);
  if (self->in_message_ && !self->closing_ && !self->waiting_handler_) {
    self->replyError(408, "request header timeout");
    return;
  }
  if (self->waiting_handler_) {
    return;  // the handler owns the time; its own deadlines apply
  }
  self->close();
}

void ServerConnection::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  closing_ = true;
  upgrading_ = false;
  if (waiting_handler_ && server_->options_.on_response) {
    waiting_handler_ = false;
    server_->options_.on_response(request_, 499);  // the client left before the answer
  }
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), &ServerConnection::onTcpClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ServerConnection::onClose);
  if (takeover_) {
    // The upgrade's response never got out: the taker is told the client is gone.
    Takeover takeover = std::move(takeover_);
    takeover_ = nullptr;
    takeover(UpgradedStream());
  }
}

void ServerConnection::onTcpClose(uv_handle_t* handle) {
  auto* self = static_cast<ServerConnection*>(handle->data);
  delete reinterpret_cast<uv_tcp_t*>(handle);
  self->tcp_ = nullptr;
  self->handleClosed();
}

void ServerConnection::onClose(uv_handle_t* handle) {
  static_cast<ServerConnection*>(handle->data)->handleClosed();
}

void ServerConnection::handleClosed() {
  if (--open_handles_ == 0) {
    // The last owner: responders hold only weak pointers.
    std::shared_ptr<ServerConnection> keep = std::move(self_);
  }
}

}  // namespace http
