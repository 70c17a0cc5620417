// The client connection: accepting it, reading (through TLS when the listener has it),
// backpressure, writing, the timer, tunnels after a 101, and closing.
#include "balancer/downstream/session.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include <openssl/err.h>

#include "balancer/downstream/proxy_header.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/http/read_switch.h"
#include "common/log/log.h"
#include "common/tls/connection.h"
#include "common/tls/server_context.h"
#include "common/util/address.h"

namespace balancer {

namespace {

constexpr util::Millis kLingerTimeout{2000};
constexpr util::Millis kFlushTimeout{5000};

uv_stream_t* asStream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }

}  // namespace

size_t Session::listenerIndex() const {
  return static_cast<size_t>(listener_->config - snapshot_->config().listeners.data());
}

Session::Session(Worker* worker, const Snapshot* snapshot, const ListenerRuntime* listener)
    : worker_(worker),
      snapshot_(snapshot),
      listener_(listener),
      metrics_(&worker->metrics()),
      parser_(http::Parser::Kind::kRequest, this, worker->requestLimits()),
      out_(asStream(&tcp_), this) {
  uv_tcp_init(worker_->loop(), &tcp_);
  uv_timer_init(worker_->loop(), &timer_);
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
  worker_->sessionOpened(this);
}

int Session::start(uv_stream_t* server) {
  int r = uv_accept(server, asStream(&tcp_));
  if (r != 0) {
    close();
    return r;
  }
  uv_tcp_nodelay(&tcp_, 1);
  if (std::shared_ptr<const tls::ServerContext> context = listener_->tls.load()) {
    SSL* ssl = context->newConnection();
    if (ssl == nullptr) {
      close();
      return UV_ENOMEM;
    }
    tls_ = std::make_unique<Tls>(std::move(context), ssl);
    out_.setTls(&tls_->connection);
  }
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    util::formatIp(reinterpret_cast<sockaddr*>(&peer), client_ip_, sizeof client_ip_);
    client_ip_length_ = static_cast<uint8_t>(std::strlen(client_ip_));
  }
  awaiting_proxy_header_ = listener_->config->proxy_protocol;
  metrics_->listener(listenerIndex()).connections_accepted.add();
  // The first request (and a PROXY header before it) must come as promptly as any later
  // header section.
  startTimer(snapshot_->config().timeouts.client_header);
  updateReading();
  return 0;
}


void Session::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(handle->data);
  *buf = self->worker_->readBuffer();
}

void Session::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(stream->data);
  if (nread > 0) {
    if (self->awaiting_proxy_header_) {
      self->handleProxyHeader(buf->base, static_cast<size_t>(nread));
    } else {
      self->handleRead(buf->base, static_cast<size_t>(nread));
    }
    return;
  }
  if (nread == 0) {
    return;
  }
  // EOF or a read error. A client that half-closes after its request still gets its answer.
  if (self->state_ == State::kTunnel) {
    UpstreamRequest& upstream = self->exchange_->upstream();
    if (upstream.conn() != nullptr) {
      upstream.conn()->closeWhenFlushed();
    }
    upstream.dropConnection();
    self->close();
    return;
  }
  if (self->state_ == State::kOpen && self->exchangeActive() &&
      self->exchange_->requestComplete() && nread == UV_EOF) {
    self->reading_ = false;
    uv_read_stop(stream);
    self->framing_.close_after = true;
    return;
  }
  self->close();
}

void Session::handleRead(const char* data, size_t len) {
  if (tls_ != nullptr) {
    handleTlsInput(data, len);
  } else {
    handleInput(data, len);
  }
}

void Session::handleProxyHeader(const char* data, size_t len) {
  // Mostly the header comes whole in the first read and is parsed where it lies; pieces are
  // gathered (at most a header's bound and one read: parseProxyHeader refuses longer).
  std::unique_ptr<std::string> held = std::move(proxy_header_);
  std::string_view bytes(data, len);
  if (held) {
    held->append(data, len);
    bytes = *held;
  }
  ProxyHeader header = parseProxyHeader(bytes);
  switch (header.status) {
    case ProxyHeader::Status::kNeedMore:
      proxy_header_ = held ? std::move(held) : std::make_unique<std::string>(bytes);
      return;
    case ProxyHeader::Status::kInvalid:
      LOG_DEBUG("client=%s closed: PROXY protocol header expected (%s)", client_ip_, header.error);
      metrics_->listener(listenerIndex()).proxy_invalid.add();
      close();
      return;
    case ProxyHeader::Status::kDone:
      break;
  }
  awaiting_proxy_header_ = false;
  if (header.source) {
    client_ip_length_ = static_cast<uint8_t>(util::formatIp(
        reinterpret_cast<const sockaddr*>(&*header.source), client_ip_, sizeof client_ip_));
  }
  if (bytes.size() > header.length) {
    handleRead(bytes.data() + header.length, bytes.size() - header.length);
  }
}

void Session::handleTlsInput(const char* data, size_t len) {
  if (state_ == State::kLingering || state_ == State::kClosed) {
    return;
  }
  uv_buf_t plain = worker_->readBuffer();  // free again: the records were copied in
  tls::Connection::ReadResult result =
      tls_->connection.read(data, len, plain.base, plain.len, [this](const char* text, size_t n) {
        handleInput(text, n);
        return state_ != State::kClosed && state_ != State::kLingering;
      });
  if (result.handshake_done_now) {
    if (slot_ != nullptr) {
      slot_->env.tls_version = tls_->connection.versionName();
    }
    metrics_->countTlsHandshake(listenerIndex(), tls_->connection.version());
  }
  switch (result.status) {
    case tls::Connection::ReadStatus::kOk:
    case tls::Connection::ReadStatus::kStopped:
      break;
    case tls::Connection::ReadStatus::kHandshakeFailed:
      // Plain HTTP on the TLS port, a scanner, a bad hello: only this connection goes.
      LOG_DEBUG("client=%s TLS handshake failed: %s", client_ip_, tls::lastError().c_str());
      metrics_->countTlsHandshake(listenerIndex(), 0);
      ERR_clear_error();
      flushOut();  // the alert
      close();
      return;
    case tls::Connection::ReadStatus::kPeerClosed:
      if (exchangeActive() && exchange_->requestComplete()) {
        framing_.close_after = true;  // close_notify after the request: answer, then close
        break;
      }
      close();
      return;
    case tls::Connection::ReadStatus::kError:
      close();
      return;
  }
  flushOut();  // records the handshake and the reads made (TLS 1.3 tickets, alerts)
}

void Session::handleInput(const char* data, size_t len) {
  if (slot_ != nullptr) {
    slot_->record.read_total += len;
  } else {
    read_unrecorded_ += len;
  }
  switch (state_) {
    case State::kLingering:
    case State::kClosed:
      return;  // discarded: the session is closing
    case State::kTunnel:
      if (UpstreamConnection* conn = exchange_->upstream().conn()) {
        conn->out().addRef(data, len);
        exchange_->upstream().flush();
        startTimer(snapshot_->config().timeouts.tunnel_idle);
        updateReading();
      }
      return;
    case State::kOpen:
      break;
  }
  if (parser_paused_ || hasPendingInput()) {
    pendingInput().append(data, len);  // read while an earlier request is still served
    updateReading();
    return;
  }
  http::Parser::Result result = parser_.execute(data, len);
  afterParse(result, data, len, false);
  if (state_ == State::kOpen && !exchangeActive() && !close_when_flushed_) {
    processPending();
  }
  updateReading();
}

ExchangeSlot& Session::leaseSlot() {
  slot_ = worker_->slots().lease();
  ExchangeRecord& record = slot_->record;
  record.open = false;
  record.read_total = read_unrecorded_;  // the bytes read while idle belong to this exchange
  record.read_recorded = 0;
  read_unrecorded_ = 0;
  ExchangeEnv& env = slot_->env;
  env.worker = worker_;
  env.listener = listener_;
  env.listener_index = listenerIndex();
  env.services = &worker_->filterServices();
  env.buffers = &slot_->buffers;
  env.record = &record;
  env.request = &parser_;
  env.client_ip = clientIp();
  env.tls_version = tls_ != nullptr && tls_->connection.handshakeDone() ? tls_->connection.versionName() : "";
  env.tls = tls_ != nullptr;
  parser_.attachHead(&slot_->buffers.request_head);
  out_.attachStorage(&slot_->buffers.client_output);
  return *slot_;
}

void Session::releaseSlotLater() {
  if (slot_ != nullptr && !release_queued_) {
    worker_->slots().releaseLater(this, &release_queued_);
  }
}

void Session::releaseSlotIfIdle() {
  release_queued_ = false;
  if (slot_ == nullptr || state_ != State::kOpen || exchangeActive() || in_message_ ||
      !out_.empty() || hasPendingInput()) {
    return;
  }
  parser_.detachHead();
  out_.detachStorage();
  read_unrecorded_ = slot_->record.read_total - slot_->record.read_recorded;
  exchange_ = nullptr;
  worker_->slots().giveBack(slot_);  // destroys the exchange
  slot_ = nullptr;
}

void Session::updateReading() {
  bool want = false;
  switch (state_) {
    case State::kOpen:
      if (close_when_flushed_ || out_.aboveHighWater() || hasPendingInput()) {
        want = false;
      } else if (parser_paused_) {
        // A whole request waits for its answer: keep reading, so that a client that resets
        // its connection is noticed now (499, the upstream request abandoned) and not when
        // the answer comes. What it pipelines meanwhile fills the pending input, which stops
        // reading again after one read.
        want = exchangeActive() && exchange_->requestComplete() && !exchange_->local() &&
               !exchange_->upgrade();
      } else if (exchangeActive()) {
        // Stream the body while the upstream keeps up; otherwise wait.
        const Exchange& ex = *exchange_;
        want = !ex.requestComplete() && !ex.local() && exchange_->upstream().takesBody();
        if (ex.local() && !ex.requestComplete()) {
          want = true;  // drop the rest of a body we already answered
        }
      } else {
        want = true;
      }
      break;
    case State::kTunnel:
      want = exchange_->upstream().conn() != nullptr &&
             !exchange_->upstream().conn()->out().aboveHighWater();
      break;
    case State::kLingering:
      want = true;
      break;
    case State::kClosed:
      return;
  }
  http::setReading(asStream(&tcp_), want, &reading_, &Session::onAlloc, &Session::onRead);
}


void Session::enterTunnel(UpstreamConnection* conn, const char* rest, size_t len) {
  state_ = State::kTunnel;
  if (int64_t expires_s = exchange_->filterOutput().token_expires_s; expires_s != 0) {
    // A WebSocket lives no longer than the token that opened it (plus leeway): the tunnel's
    // timer fires then at the latest (see startTimer).
    int64_t left_ms = (expires_s - static_cast<int64_t>(time(nullptr))) * 1000;
    tunnel_expires_ms_ = uv_now(worker_->loop()) + static_cast<uint64_t>(std::max<int64_t>(left_ms, 0));
  }
  conn->enterTunnel();
  out_.addRef(rest, len);
  flushOut();
  if (state_ == State::kClosed) {
    return;
  }
  if (hasPendingInput()) {
    conn->out().addCopy(pendingInput());
    pendingInput().clear();
    exchange_->upstream().flush();
  }
  startTimer(snapshot_->config().timeouts.tunnel_idle);
  updateReading();
}

void Session::onTunnelData(const char* data, size_t len) {
  out_.addRef(data, len);
  flushOut();
  startTimer(snapshot_->config().timeouts.tunnel_idle);
  if (out_.aboveHighWater() && exchange_->upstream().conn() != nullptr) {
    exchange_->upstream().conn()->pauseReading();
  }
}


void Session::flushOut(bool more) {
  // With TLS there may be records to send (handshake, alerts) even with nothing added.
  if ((out_.empty() && tls_ == nullptr) || state_ == State::kClosed) {
    return;
  }
  int r = out_.flush(more);
  if (r < 0) {
    onOutputError(r);
  }
}

void Session::onOutputDrained() {
  if (close_when_flushed_) {
    if (out_.queuedBytes() == 0 && state_ == State::kOpen) {
      closeWhenFlushed();
    }
    return;
  }
  if (state_ == State::kTunnel) {
    if (UpstreamConnection* conn = exchange_->upstream().conn()) {
      conn->resumeReading();
    }
  } else if (exchange_ && exchange_->responseStarted()) {
    if (client_write_timer_) {
      stopTimer();  // the client took its response: client_write starts over
    }
    exchange_->onClientDrained();
    if (state_ == State::kClosed) {
      return;
    }
  }
  if (!exchangeActive() && !in_message_) {
    releaseSlotLater();  // the answer's last bytes were waiting for the client
  }
  updateReading();
}

void Session::onOutputError(int) { close(); }

// The session's one timer is lazy: a new deadline only moves the uv timer when it is earlier
// than the armed one, and a stop only forgets the deadline; a timer that fires early re-arms
// itself for what is left. A keep-alive request then costs one uv_timer_start, not three
// heap operations (header timer, its stop, the idle timer).
void Session::startTimer(util::Millis timeout) {
  client_write_timer_ = false;
  uint64_t now = uv_now(worker_->loop());
  uint64_t ms = static_cast<uint64_t>(timeout.count());
  if (tunnel_expires_ms_ != 0 && now + ms > tunnel_expires_ms_) {
    ms = tunnel_expires_ms_ > now ? tunnel_expires_ms_ - now : 0;
  }
  timer_deadline_ms_ = now + ms;
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)) == 0 ||
      uv_timer_get_due_in(&timer_) > ms) {
    uv_timer_start(&timer_, &Session::onTimer, ms, 0);
  }
}

void Session::stopTimer() {
  client_write_timer_ = false;
  timer_deadline_ms_ = 0;
}

void Session::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<Session*>(timer->data);
  if (self->timer_deadline_ms_ == 0) {
    return;  // stopped
  }
  uint64_t now = uv_now(self->worker_->loop());
  if (now < self->timer_deadline_ms_) {
    uv_timer_start(timer, &Session::onTimer, self->timer_deadline_ms_ - now, 0);
    return;
  }
  self->timer_deadline_ms_ = 0;
  switch (self->state_) {
    case State::kOpen:
      if (!self->close_when_flushed_ && self->in_message_ && !self->exchangeActive()) {
        self->newExchange(true).reply(408, "request header timeout", true);
        return;
      }
      if (self->awaiting_proxy_header_) {
        self->metrics_->listener(self->listenerIndex()).proxy_timeout.add();
      }
      self->close();  // keep-alive idle, or a client that would not read its answer
      return;
    case State::kTunnel:
      if (self->tunnel_expires_ms_ != 0 && now >= self->tunnel_expires_ms_) {
        LOG_INFO("request_id=%s client=%s the token of this WebSocket expired: closed",
                 self->buffers().request_id.c_str(), self->client_ip_);
      }
      self->close();
      return;
    case State::kLingering:
      self->close();
      return;
    case State::kClosed:
      return;
  }
}

void Session::closeWhenFlushed() {
  close_when_flushed_ = true;
  if (state_ != State::kOpen && state_ != State::kTunnel) {
    return;
  }
  if (out_.queuedBytes() > 0) {
    startTimer(kFlushTimeout);
    updateReading();
    return;
  }
  if (tls_ != nullptr && tls_->connection.handshakeDone()) {
    tls_->connection.shutdown();  // close_notify, so the client knows the response was not cut
    flushOut();
    if (state_ == State::kClosed) {
      return;
    }
  }
  if (tls_ == nullptr && out_.empty() && clientDoneSending()) {
    close();  // the kernel sends what is queued, then the FIN: no shutdown, no wait, no read
    return;
  }
  // Half-close, then read and drop what the client still sends until it closes too: closing
  // with unread bytes would reset the connection and could destroy the answer in flight.
  state_ = State::kLingering;
  auto* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, asStream(&tcp_), &Session::onShutdown) != 0) {
    delete req;
    close();
    return;
  }
  startTimer(kLingerTimeout);
  updateReading();
}

bool Session::clientDoneSending() const {
  // Connection: close (or HTTP/1.0 without keep-alive) after a request read whole: the client
  // promised no more bytes. Only a close with unread bytes sends a RST; FIONREAD says there
  // are none, and a client breaking its promise later gets the RST it asked for.
  if (framing_.keep_alive || !exchange_ || !exchange_->requestComplete() || in_message_ ||
      hasPendingInput()) {
    return false;
  }
  uv_os_fd_t fd;
  int unread = 0;
  return uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) == 0 &&
         ioctl(fd, FIONREAD, &unread) == 0 && unread == 0;
}

void Session::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<Session*>(req->data);
  delete req;
  if (status == UV_ECANCELED) {
    return;  // the session closed first and may be gone
  }
  if (status < 0) {
    self->close();
  }
}

void Session::drain() {
  draining_ = true;
  if (state_ != State::kOpen || exchangeActive() || in_message_) {
    return;  // the exchange's end closes the connection
  }
  if (hasPendingInput()) {
    processPending();  // a pipelined request was read: it is answered, with Connection: close
    if (state_ != State::kOpen || exchangeActive() || in_message_ || close_when_flushed_) {
      return;
    }
  }
  close();
}

void Session::close(int status) {
  if (state_ == State::kClosed) {
    return;
  }
  if (slot_ != nullptr && slot_->record.open && !exchangeActive()) {
    // A request that began and never became an exchange: logged too, as its own (not as the
    // finished exchange before it, whose filters would count it again).
    newExchange(true);
  }
  state_ = State::kClosed;
  if (release_queued_) {
    worker_->slots().cancel(this, &release_queued_);
  }
  if (file_sender_ != nullptr) {
    file_sender_->cancel();
    file_sender_ = nullptr;
  }
  if (exchange_) {
    exchange_->onConnectionClosed(status);
  }
  if (slot_ != nullptr) {
    // The slot stays until the session is freed: its exchange may still be called back.
    out_.discard();
    parser_.detachHead();
    out_.detachStorage();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Session::onClose);
}

Session::~Session() {
  if (slot_ != nullptr) {
    worker_->slots().giveBack(slot_);
  }
}

void Session::onClose(uv_handle_t* handle) {
  auto* self = static_cast<Session*>(handle->data);
  if (--self->open_handles_ == 0) {
    Worker* worker = self->worker_;
    worker->sessionClosed(self);
    delete self;
  }
}

}  // namespace balancer
