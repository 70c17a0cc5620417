#include "common/ws/connection.h"

#include "common/http/read_switch.h"
#include "common/util/utf8.h"

namespace ws {

namespace {
uv_stream_t* asStream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
}  // namespace

Connection::Connection(Options options, Handlers handlers, std::string_view client_ip)
    : options_(options), handlers_(std::move(handlers)), client_ip_(client_ip) {}

Connection::~Connection() = default;

void Connection::start(http::UpgradedStream stream) {
  if (!stream) {
    state_ = State::kClosed;
    close_reason_ = "client left during the handshake";
    if (!accepting_) {
      reportClosed();
    }
    return;
  }
  input_ = std::move(stream.buffered());
  tcp_ = stream.release();
  tcp_->data = this;
  uv_timer_init(tcp_->loop, &timer_);
  timer_.data = this;
  open_handles_ = 2;
  self_ = shared_from_this();
  out_ = std::make_unique<http::OutputQueue>(asStream(tcp_), this);
  uv_tcp_nodelay(tcp_, 1);
  state_ = State::kOpen;
  // Frames the client sent right behind its request are read on the next turn, so that no
  // callback runs before ws::accept has returned the connection to its owner.
  input_pending_ = !input_.empty();
  if (input_pending_) {
    startTimer(util::Millis(0));
  } else if (options_.ping_interval.count() > 0) {
    startTimer(options_.ping_interval);
  }
  updateReading();
  stream.watchServerClose(weak_from_this());
}

bool Connection::sendText(std::string_view text) {
  return state_ == State::kOpen && sendFrame(Opcode::kText, text);
}

bool Connection::sendBinary(std::string_view data) {
  return state_ == State::kOpen && sendFrame(Opcode::kBinary, data);
}

bool Connection::ping(std::string_view payload) {
  return state_ == State::kOpen && payload.size() <= kMaxControlPayload &&
         sendFrame(Opcode::kPing, payload);
}

void Connection::close(uint16_t code, std::string_view reason) {
  if (state_ != State::kOpen) {
    return;
  }
  sendClose(isSendableCloseCode(code) ? code : kCloseNormal, reason);
  if (state_ != State::kOpen) {
    return;  // the write failed and closed the socket
  }
  state_ = State::kClosing;
  startTimer(options_.close_timeout);
}

size_t Connection::bufferedAmount() const { return out_ ? out_->queuedBytes() : 0; }

void Connection::onServerClose() { close(kCloseGoingAway, "server shutting down"); }

void Connection::onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  // Copied into input_ at once, so one buffer serves every connection of a thread.
  thread_local char buffer[64 * 1024];
  *buf = uv_buf_init(buffer, sizeof buffer);
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    if (self->state_ != State::kOpen && self->state_ != State::kClosing) {
      return;  // lingering: what still comes is dropped
    }
    self->heard_ = true;
    self->input_.append(buf->base, static_cast<size_t>(nread));
    self->processInput();
  } else if (nread < 0) {
    self->closeHandles("connection lost");
  }
}

void Connection::processInput() {
  size_t offset = 0;
  while (state_ == State::kOpen || state_ == State::kClosing) {
    std::string_view rest(input_.data() + offset, input_.size() - offset);
    FrameHeader header;
    FrameStatus status = parseFrameHeader(rest, &header);
    if (status == FrameStatus::kIncomplete) {
      break;
    }
    if (status == FrameStatus::kError) {
      fail(kCloseProtocolError, "malformed frame");
      break;
    }
    if (!header.masked) {
      fail(kCloseProtocolError, "unmasked client frame");
      break;
    }
    // Refused before it is buffered, so a client cannot make us hold more than the limit.
    uint64_t message_size =
        header.payload_length + (header.opcode == Opcode::kContinuation ? message_.size() : 0);
    if (!isControl(header.opcode) && message_size > options_.max_message_size) {
      fail(kCloseMessageTooBig, "message too big");
      break;
    }
    if (rest.size() - header.header_length < header.payload_length) {
      break;
    }
    char* payload = input_.data() + offset + header.header_length;
    size_t len = static_cast<size_t>(header.payload_length);
    applyMask(payload, len, header.mask);
    offset += header.header_length + len;
    if (!handleFrame(header, std::string_view(payload, len))) {
      break;
    }
  }
  if (state_ == State::kOpen || state_ == State::kClosing) {
    input_.erase(0, offset);
  } else {
    input_.clear();
  }
}

bool Connection::handleFrame(const FrameHeader& header, std::string_view payload) {
  switch (header.opcode) {
    case Opcode::kText:
    case Opcode::kBinary:
      if (in_message_) {
        fail(kCloseProtocolError, "new message inside a fragmented one");
        return false;
      }
      if (header.fin) {
        deliver(header.opcode, payload);
      } else {
        in_message_ = true;
        message_opcode_ = header.opcode;
        message_.assign(payload);
      }
      return true;
    case Opcode::kContinuation:
      if (!in_message_) {
        fail(kCloseProtocolError, "continuation without a message");
        return false;
      }
      message_.append(payload);
      if (header.fin) {
        deliver(message_opcode_, message_);
        in_message_ = false;
        message_.clear();
      }
      return true;
    case Opcode::kPing:
      if (state_ == State::kOpen) {
        sendFrame(Opcode::kPong, payload);
      }
      return true;
    case Opcode::kPong:
      return true;  // any byte from the peer already counts for the keep-alive
    case Opcode::kClose: {
      uint16_t code;
      std::string_view reason;
      if (!parseClosePayload(payload, &code, &reason)) {
        fail(kCloseProtocolError, "bad close frame");
        return false;
      }
      if (!util::isValidUtf8(reason)) {
        fail(kCloseInvalidPayload, "close reason is not UTF-8");
        return false;
      }
      received_close_ = true;
      close_code_ = code;
      close_reason_.assign(reason);
      if (!sent_close_) {
        // Echo the peer's code (RFC 6455 5.5.1); a close without one is answered in kind.
        if (code == kCloseNoStatus) {
          sent_close_ = true;
          sendFrame(Opcode::kClose, {});
        } else {
          sendClose(code, {});
        }
      }
      linger();
      return false;
    }
  }
  return true;
}

void Connection::deliver(Opcode opcode, std::string_view payload) {
  if (state_ != State::kOpen) {
    return;  // after our close frame, messages are dropped
  }
  if (opcode == Opcode::kText && !util::isValidUtf8(payload)) {
    fail(kCloseInvalidPayload, "text message is not UTF-8");
    return;
  }
  if (handlers_.on_message) {
    handlers_.on_message(opcode, payload);
  }
}

bool Connection::sendFrame(Opcode opcode, std::string_view payload) {
  if (state_ == State::kClosed || state_ == State::kConnecting) {
    return false;
  }
  char header[kMaxFrameHeader];
  out_->addCopy(header, encodeFrameHeader(header, opcode, payload.size()));
  out_->addRef(payload.data(), payload.size());  // flushed (or copied) before we return
  if (out_->flush() < 0) {
    closeHandles("write failed");
    return false;
  }
  updateReading();
  return true;
}

void Connection::sendClose(uint16_t code, std::string_view reason) {
  sent_close_ = true;
  if (!received_close_) {
    close_code_ = code;
    close_reason_.assign(reason);
  }
  sendFrame(Opcode::kClose, encodeClosePayload(code, reason));
}

void Connection::fail(uint16_t code, std::string_view reason) {
  if (state_ == State::kOpen) {
    sendClose(code, reason);
  }
  if (state_ == State::kOpen || state_ == State::kClosing) {
    linger();
  }
}

void Connection::linger() {
  state_ = State::kLingering;
  in_message_ = false;
  // FIN after the last frame, then read until the peer's: closing with unread bytes would
  // reset the connection and could destroy our close frame before the peer reads it.
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, asStream(tcp_), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
    closeHandles("connection lost");
    return;
  }
  startTimer(options_.close_timeout);
  updateReading();
}

void Connection::closeHandles(std::string_view reason) {
  if (state_ == State::kClosed || tcp_ == nullptr) {
    return;
  }
  if (!sent_close_ && !received_close_) {
    close_code_ = kCloseAbnormal;
    close_reason_.assign(reason);
  }
  state_ = State::kClosed;
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), &Connection::onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Connection::onClose);
}

void Connection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (handle == reinterpret_cast<uv_handle_t*>(self->tcp_)) {
    delete self->tcp_;
    self->tcp_ = nullptr;
  }
  if (--self->open_handles_ == 0) {
    std::shared_ptr<Connection> keep = std::move(self->self_);
    self->reportClosed();
  }
}

void Connection::reportClosed() {
  // The handlers go with the connection's life: one capturing the connection would otherwise
  // keep it forever.
  auto on_close = std::move(handlers_.on_close);
  handlers_ = Handlers();
  if (on_close) {
    on_close(close_code_, close_reason_);
  }
}

void Connection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  switch (self->state_) {
    case State::kOpen:
      if (self->input_pending_) {
        self->input_pending_ = false;
        self->processInput();
        if (self->state_ == State::kOpen && self->options_.ping_interval.count() > 0) {
          self->startTimer(self->options_.ping_interval);
        }
        return;
      }
      self->keepAlive();
      return;
    case State::kClosing:
      self->closeHandles("no close frame from the peer");
      return;
    case State::kLingering:
      self->closeHandles("no FIN from the peer");
      return;
    case State::kConnecting:
    case State::kClosed:
      return;
  }
}

void Connection::keepAlive() {
  if (ping_pending_ && !heard_) {
    closeHandles("no pong within the timeout");
    return;
  }
  ping_pending_ = false;
  if (heard_) {
    // The peer spoke during the last interval: no ping needed yet.
    heard_ = false;
    startTimer(options_.ping_interval);
    return;
  }
  if (!sendFrame(Opcode::kPing, {})) {
    return;
  }
  ping_pending_ = true;
  startTimer(options_.pong_timeout);
}

void Connection::onOutputDrained() {
  if (state_ == State::kOpen && handlers_.on_drain) {
    handlers_.on_drain();
  }
  updateReading();
}

void Connection::onOutputError(int) { closeHandles("write failed"); }

void Connection::updateReading() {
  if (tcp_ == nullptr || state_ == State::kClosed) {
    return;
  }
  // A peer that sends (pings, say) without reading our answers is not read either, so what
  // we queue for it stays bounded.
  bool want = state_ == State::kLingering || !out_->aboveHighWater();
  http::setReading(asStream(tcp_), want, &reading_, &Connection::onAlloc, &Connection::onRead);
}

void Connection::startTimer(util::Millis timeout) {
  uv_timer_start(&timer_, &Connection::onTimer, static_cast<uint64_t>(timeout.count()), 0);
}

}  // namespace ws
