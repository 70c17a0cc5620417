#include "balancer/session.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "balancer/exchange/head_rewrite.h"
#include "balancer/snapshot.h"
#include "balancer/upstream_pool.h"
#include "balancer/worker.h"
#include "common/http/header_list.h"
#include "common/http/read_switch.h"
#include "common/http/status.h"
#include "common/jwt/verifier.h"
#include "common/log/log.h"
#include "common/tls/connection.h"
#include "common/tls/server_context.h"

#include <openssl/err.h>
#include "common/util/address.h"

namespace balancer {

namespace {

constexpr util::Millis kLingerTimeout{2000};
constexpr util::Millis kFlushTimeout{5000};

uv_stream_t* asStream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }

size_t listenerIndex(const Snapshot& snapshot, const ListenerRuntime* listener) {
  return static_cast<size_t>(listener->config - snapshot.config().listeners.data());
}

// Whether the request's Upgrade asks for WebSocket (RFC 6455 section 4.1), and only that.
bool upgradesToWebSocket(const http::HeaderList& headers) {
  bool found = false;
  std::string_view value = headers.find(http::HeaderKind::kUpgrade, &found);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  return found && http::equalsIgnoreCase(value, "websocket");
}

bool isIdempotent(llhttp_method_t method) {
  switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
    case HTTP_TRACE:
    case HTTP_PUT:
    case HTTP_DELETE:
      return true;
    default:
      return false;
  }
}

// A client's request id is kept only when it is short and plain, since it is echoed in
// headers and JSON.
bool acceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

Session::Session(Worker* worker, const Snapshot* snapshot, const ListenerRuntime* listener)
    : worker_(worker),
      snapshot_(snapshot),
      listener_(listener),
      metrics_(&worker->metrics()),
      filter_services_(worker),
      parser_(http::Parser::Kind::kRequest, this, &snapshot->requestLimits()),
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
  tls_context_ = listener_->tls.load();
  if (tls_context_) {
    SSL* ssl = tls_context_->newConnection();
    if (ssl == nullptr) {
      close();
      return UV_ENOMEM;
    }
    tls_ = std::make_unique<tls::Connection>(ssl);
    out_.setTls(tls_.get());
  }
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    util::formatIp(reinterpret_cast<sockaddr*>(&peer), client_ip_, sizeof client_ip_);
    client_ip_length_ = static_cast<uint8_t>(std::strlen(client_ip_));
  }
  metrics_->listener(listenerIndex(*snapshot_, listener_)).connections_accepted.add();
  // The first request must come as promptly as any later header section.
  startTimer(snapshot_->config().timeouts.client_header);
  updateReading();
  return 0;
}

// ---- reading from the client ----------------------------------------------------------------

void Session::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(handle->data);
  *buf = self->worker_->readBuffer();
}

void Session::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(stream->data);
  if (nread > 0) {
    if (self->tls_ != nullptr) {
      self->handleTlsInput(buf->base, static_cast<size_t>(nread));
    } else {
      self->handleInput(buf->base, static_cast<size_t>(nread));
    }
    return;
  }
  if (nread == 0) {
    return;
  }
  // EOF or a read error. A client that half-closes after its request still gets its answer.
  if (self->state_ == State::kTunnel) {
    UpstreamRequest& upstream = self->exchange_.upstream;
    if (upstream.conn() != nullptr) {
      upstream.conn()->closeWhenFlushed();
    }
    upstream.dropConnection();
    self->close();
    return;
  }
  if (self->state_ == State::kOpen && self->exchange_.active && self->exchange_.request_complete &&
      nread == UV_EOF) {
    self->reading_ = false;
    uv_read_stop(stream);
    self->exchange_.close_after = true;
    return;
  }
  self->close();
}

void Session::handleTlsInput(const char* data, size_t len) {
  if (state_ == State::kLingering || state_ == State::kClosed) {
    return;
  }
  uv_buf_t plain = worker_->readBuffer();  // free again: the records were copied in
  tls::Connection::ReadResult result =
      tls_->read(data, len, plain.base, plain.len, [this](const char* text, size_t n) {
        handleInput(text, n);
        return state_ != State::kClosed && state_ != State::kLingering;
      });
  if (result.handshake_done_now) {
    metrics_->countTlsHandshake(listenerIndex(*snapshot_, listener_), tls_->version());
  }
  switch (result.status) {
    case tls::Connection::ReadStatus::kOk:
    case tls::Connection::ReadStatus::kStopped:
      break;
    case tls::Connection::ReadStatus::kHandshakeFailed:
      // Plain HTTP on the TLS port, a scanner, a bad hello: only this connection goes.
      LOG_DEBUG("client=%s TLS handshake failed: %s", client_ip_, tls::lastError().c_str());
      metrics_->countTlsHandshake(listenerIndex(*snapshot_, listener_), 0);
      ERR_clear_error();
      flushOut();  // the alert
      close();
      return;
    case tls::Connection::ReadStatus::kPeerClosed:
      if (exchange_.active && exchange_.request_complete) {
        exchange_.close_after = true;  // close_notify after the request: answer, then close
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
  record_.read_total += len;
  switch (state_) {
    case State::kLingering:
    case State::kClosed:
      return;  // discarded: the session is closing
    case State::kTunnel:
      if (UpstreamConnection* conn = exchange_.upstream.conn()) {
        conn->out().addRef(data, len);
        exchange_.upstream.flush();
        startTimer(snapshot_->config().timeouts.tunnel_idle);
        updateReading();
      }
      return;
    case State::kOpen:
      break;
  }
  if (parser_paused_ || !pending_input_.empty()) {
    pending_input_.append(data, len);  // read while an earlier request is still served
    updateReading();
    return;
  }
  http::Parser::Result result = parser_.execute(data, len);
  afterParse(result, data, len, false);
  if (state_ == State::kOpen && !exchange_.active && !close_when_flushed_) {
    processPending();
  }
  updateReading();
}

void Session::afterParse(const http::Parser::Result& result, const char* data, size_t len,
                         bool from_pending) {
  // The body pieces refer to the input: send them before it is reused.
  exchange_.upstream.flush();
  if (state_ != State::kOpen) {
    return;
  }
  switch (result.status) {
    case http::Parser::Status::kError:
      handleParseError();
      return;
    case http::Parser::Status::kPaused:
    case http::Parser::Status::kUpgrade:
      parser_paused_ = true;
      if (from_pending) {
        pending_input_.erase(0, result.consumed);
      } else {
        pending_input_.append(data + result.consumed, len - result.consumed);
      }
      break;
    case http::Parser::Status::kOk:
      if (from_pending) {
        pending_input_.clear();
      }
      break;
  }
  flushOut();
  if (exchange_.active && exchange_.local && exchange_.request_complete) {
    // Answered by the balancer and fully read: the next request may go on.
    exchange_.active = false;
    if (exchange_.close_after || draining_ || !exchange_.client_keep_alive) {
      closeWhenFlushed();
    }
  }
}

void Session::processPending() {
  while (state_ == State::kOpen && !exchange_.active && !close_when_flushed_ &&
         !pending_input_.empty()) {
    if (parser_paused_) {
      parser_.resume();
      parser_paused_ = false;
    }
    // Parse from a copy-free view of pending_input_; afterParse trims what was used.
    http::Parser::Result result = parser_.execute(pending_input_.data(), pending_input_.size());
    afterParse(result, pending_input_.data(), pending_input_.size(), true);
  }
  if (state_ == State::kOpen && !exchange_.active && !close_when_flushed_ && !in_message_) {
    if (parser_paused_) {
      parser_.resume();
      parser_paused_ = false;
    }
    startTimer(snapshot_->config().timeouts.client_idle);
    releaseBuffersIfIdle();
  }
}

ExchangeBuffers& Session::buffers() {
  if (buffers_ == nullptr) {
    buffers_ = worker_->leaseBuffers();
    parser_.attachHead(&buffers_->request_head);
    out_.attachStorage(&buffers_->client_output);
  }
  return *buffers_;
}

void Session::releaseBuffersIfIdle() {
  if (buffers_ == nullptr || exchange_.active || in_message_ || !out_.empty() ||
      !pending_input_.empty()) {
    return;
  }
  parser_.detachHead();
  out_.detachStorage();
  worker_->returnBuffers(buffers_);
  buffers_ = nullptr;
}

void Session::handleParseError() {
  int status = 400;
  std::string_view message = "malformed request";
  switch (parser_.error()) {
    case http::ParseError::kHeadersTooLarge:
      status = 431;
      message = "request header fields too large";
      break;
    case http::ParseError::kBodyTooLarge:
      status = 413;
      message = "request body too large";
      break;
    default:
      break;
  }
  if (exchange_.active && !exchange_.local && !abandonUpstream()) {
    return;  // the error is in the body, and the response had begun
  }
  if (!exchange_.active) {
    worker_->newRequestId(&buffers().request_id);
  }
  exchange_.active = true;
  exchange_.client_http10 = false;
  LOG_INFO("request_id=%s client=%s status=%d error=\"%s: %s\"", requestId(),
           client_ip_, status, std::string(message).c_str(), parser_.errorReason());
  reply(status, message, true);
}

void Session::updateReading() {
  bool want = false;
  switch (state_) {
    case State::kOpen:
      if (close_when_flushed_ || out_.aboveHighWater() || !pending_input_.empty()) {
        want = false;
      } else if (parser_paused_) {
        // A whole request waits for its answer: keep reading, so that a client that resets
        // its connection is noticed now (499, the upstream request abandoned) and not when
        // the answer comes. What it pipelines meanwhile fills pending_input_, which stops
        // reading again after one read.
        want = exchange_.active && exchange_.request_complete && !exchange_.local &&
               !exchange_.upgrade;
      } else if (exchange_.active) {
        // Stream the body while the upstream keeps up; otherwise wait.
        want = !exchange_.request_complete && !exchange_.local && exchange_.upstream.takesBody();
        if (exchange_.local && !exchange_.request_complete) {
          want = true;  // drop the rest of a body we already answered
        }
      } else {
        want = true;
      }
      break;
    case State::kTunnel:
      want = exchange_.upstream.conn() != nullptr &&
             !exchange_.upstream.conn()->out().aboveHighWater();
      break;
    case State::kLingering:
      want = true;
      break;
    case State::kClosed:
      return;
  }
  http::setReading(asStream(&tcp_), want, &reading_, &Session::onAlloc, &Session::onRead);
}

// ---- the request ------------------------------------------------------------------------------

int Session::onMessageBegin() {
  in_message_ = true;
  record_.begin(uv_hrtime());
  buffers();  // lends the parser its head storage
  startTimer(snapshot_->config().timeouts.client_header);
  return 0;
}

int Session::onHeadersComplete() {
  stopTimer();
  if (snapshot_ != worker_->snapshot()) {
    worker_->follow(&snapshot_, &listener_, &metrics_);  // SIGHUP: new exchanges, new config
  }
  record_.head = true;
  exchange_ = Exchange{};  // built fresh: nothing of the last exchange is left
  Exchange& ex = exchange_;
  ex.active = true;
  ex.number = ++exchanges_;
  ExchangeBuffers& buf = buffers();
  buf.early_body.clear();
  buf.identity_headers.clear();
  buf.user.clear();
  buf.response_headers.clear();

  const http::HeaderList& headers = parser_.headers();
  bool has_id = false;
  std::string_view client_id = headers.find(http::HeaderKind::kXRequestId, &has_id);
  if (has_id && acceptableRequestId(client_id)) {
    buf.request_id.assign(client_id);
  } else {
    worker_->newRequestId(&buf.request_id);
  }
  llhttp_method_t method = parser_.method();
  ex.head_request = method == HTTP_HEAD;
  ex.client_http10 = parser_.versionMajor() == 1 && parser_.versionMinor() == 0;
  ex.client_keep_alive = parser_.keepAlive();
  ex.chunked_request = parser_.chunked();
  ex.upgrade = parser_.upgrade();
  if (ex.upgrade && method != HTTP_CONNECT && !upgradesToWebSocket(headers)) {
    // Only WebSocket is tunnelled: an h2c or TLS upgrade is served as the plain HTTP/1.1
    // request it also is (RFC 9110 section 7.8 lets a server ignore Upgrade), and its
    // Upgrade header is not forwarded, so no backend switches this connection to h2.
    parser_.ignoreUpgrade();
    ex.upgrade = false;
  }
  if (method == HTTP_CONNECT) {
    reply(405, "CONNECT is not supported", true);
    return kPause;
  }
  if (ex.upgrade) {
    // Unless the upstream switches protocols, nothing after this request can be parsed.
    ex.close_after = true;
  }
  startFilters();
  return close_when_flushed_ ? kPause : 0;
}

// ---- the request's stages: filters, routing, forwarding ---------------------------------------

void Session::startFilters() {
  // Every field is set here (the context is the exchange's, fresh for each request), without
  // zeroing the whole first: this runs for every request.
  filters::FilterContext& ctx = filter_ctx_;
  filters::RequestFacts& req = ctx.request;
  req.headers = &parser_.headers();
  req.raw_target = parser_.target();
  req.target = RequestTarget{};
  req.client_ip = clientIp();
  req.content_length = parser_.hasContentLength()
                           ? std::optional<uint64_t>(parser_.contentLength())
                           : std::nullopt;
  req.has_body = parser_.hasBody();
  req.upgrade = exchange_.upgrade;
  req.route = -1;
  req.https_port = listener_->https_port;
  ExchangeBuffers& buf = *buffers_;  // leased in onMessageBegin
  ctx.out.user = &buf.user;
  ctx.out.identity_headers = &buf.identity_headers;
  ctx.out.limit_key = &buf.limit_key;
  ctx.out.response_headers = &buf.response_headers;
  ctx.out.response_body_rewritten = false;
  ctx.states.clear();
  ctx.out.drop_access_token = false;
  ctx.out.token_expires_s = 0;
  ctx.out.body_bytes = 0;
  ctx.services = &filter_services_;
  ctx.metrics = metrics_;
  ctx.host = this;
  const filters::FilterChain& chain =
      snapshot_->listenerFilters(listenerIndex(*snapshot_, listener_));
  if (chain.empty() || runFilters(chain, 0)) {
    routeRequest();
  }
}

void Session::routeRequest() {
  Exchange& ex = exchange_;
  filters::RequestFacts& req = filter_ctx_.request;
  req.target = splitTarget(parser_.target(), parser_.headers().find(http::HeaderKind::kHost),
                           &buffers().path);
  if (req.target.path_invalid) {
    ex.close_after = true;
    failExchange(400, "invalid path: a bad %-escape, or '..' above the root");
    return;
  }
  int route = snapshot_->router().match(req.target.host, req.target.path, parser_.methodName());
  record_.route = route;
  req.route = route;
  if (route < 0) {
    failExchange(404, "no route");
    return;
  }
  size_t upstream = snapshot_->upstreamOfRoute(static_cast<size_t>(route));
  UpstreamRequest::Setup& setup = ex.upstream.setup();
  setup.pool = &worker_->pool(snapshot_, upstream);
  setup.listener = this;
  setup.buffers = buffers_;
  setup.record = &record_;
  setup.counters = &metrics_->upstream(upstream);
  setup.worker_id = worker_->id();
  setup.request_id = buffers_->request_id;
  setup.idempotent = isIdempotent(parser_.method());
  setup.head_request = ex.head_request;
  setup.upgrade = ex.upgrade;
  setup.chunked = ex.chunked_request;
  ex.filters = &snapshot_->routeFilters(static_cast<size_t>(route));
  if (ex.filters->empty() || runFilters(*ex.filters, 0)) {
    forwardRequest();
  }
}

void Session::forwardRequest() {
  const RouteConfig& rc = snapshot_->config().routes[static_cast<size_t>(record_.route)];
  buildUpstreamHead(rc.strip_prefix);
  dispatch();
}

bool Session::runFilters(const filters::FilterChain& chain, size_t from) {
  size_t at = 0;
  resumed_inside_.reset();
  filters_running_ = true;
  filters::Verdict verdict = chain.runRequestHead(filter_ctx_, from, &at);
  filters_running_ = false;
  if (verdict.action != filters::Verdict::Action::kPause) {
    resumed_inside_.reset();  // only a filter that pauses may be resumed
  } else {
    exchange_.paused_chain = &chain;
    exchange_.paused_at = at;
    if (!resumed_inside_) {
      return false;  // onFilterResumed goes on
    }
    verdict = std::move(*resumed_inside_);  // it decided before it returned (Redis is down)
    resumed_inside_.reset();
    if (verdict.goesOn()) {
      filter_ctx_.out.response_headers->append(verdict.headers);
      return runFilters(chain, at + 1);
    }
  }
  if (verdict.action == filters::Verdict::Action::kReply) {
    answerFromFilter(verdict);
    return false;
  }
  return true;  // the chain kept what the filters add to the response
}

void Session::answerFromFilter(filters::Verdict& verdict) {
  if (verdict.close) {
    exchange_.close_after = true;
  }
  failExchange(verdict.status, verdict.message, verdict.headers);
}

filters::Resumer Session::pauseExchange() {
  if (!alive_) {
    alive_ = std::make_shared<filters::ChainHost*>(this);
  }
  return filters::Resumer(alive_, exchange_.number);
}

void Session::onFilterResumed(uint64_t exchange, filters::Verdict verdict) {
  if (exchange != exchange_.number || !exchange_.active || state_ != State::kOpen) {
    return;  // the client left, or the exchange ended, while the filter waited
  }
  if (filters_running_) {
    resumed_inside_ = std::move(verdict);
    return;
  }
  if (verdict.action == filters::Verdict::Action::kReply) {
    answerFromFilter(verdict);
    return;
  }
  filter_ctx_.out.response_headers->append(verdict.headers);
  const filters::FilterChain& chain = *exchange_.paused_chain;
  if (!runFilters(chain, exchange_.paused_at + 1)) {
    return;
  }
  if (&chain == exchange_.filters) {
    forwardRequest();
  } else {
    routeRequest();  // a listener's filter paused
  }
}

void Session::buildUpstreamHead(std::string_view strip_prefix) {
  RequestRewrite rewrite;
  rewrite.strip_prefix = strip_prefix;
  rewrite.client_ip = clientIp();
  rewrite.request_id = buffers().request_id;
  rewrite.tls = tls_ != nullptr;
  rewrite.upgrade = exchange_.upgrade;
  rewrite.default_host = exchange_.upstream.pool()->upstream().config->name;
  rewrite.drop_headers = snapshot_->identityHeaders();
  rewrite.extra_headers = buffers().identity_headers;
  if (filter_ctx_.out.drop_access_token) {
    rewrite.drop_query_param = "access_token";
  }
  size_t dropped_underscore = 0;
  rewrite.dropped_underscore = &dropped_underscore;
  rewriteRequestHead(parser_, filter_ctx_.request.target, rewrite, &buffers().upstream_head);
  if (dropped_underscore > 0) {
    metrics_->countHeadersDropped(record_.route, dropped_underscore);
  }
}

int Session::onBody(const char* data, size_t len) {
  if (exchange_.local) {
    return 0;
  }
  const filters::FilterChain* chain = exchange_.filters;
  if (chain != nullptr && chain->wantsRequestBody()) {
    filters::Verdict verdict = chain->runRequestBody(filter_ctx_, {data, len});
    if (verdict.action == filters::Verdict::Action::kReply) {
      // A body filter's answer (413 for a chunked body past the route's limit): the upstream
      // has part of the request and must not take it for a whole one.
      if (abandonUpstream()) {
        reply(verdict.status, verdict.message, true, verdict.headers);
      }
      return kPause;
    }
  }
  exchange_.upstream.forwardBody(data, len);
  return 0;
}

int Session::onMessageComplete() {
  in_message_ = false;
  Exchange& ex = exchange_;
  ex.request_complete = true;
  if (!ex.local && ex.upstream.routed()) {
    ex.upstream.endBody();
  }
  // One exchange at a time: pipelined requests wait until this response is written.
  // An upgrade pauses by itself, with the tunnel's first bytes after it.
  return ex.upgrade ? 0 : kPause;
}

// ---- choosing a backend and sending -----------------------------------------------------------

void Session::dispatch() {
  UpstreamError error;
  if (!exchange_.upstream.dispatch(&error)) {
    failExchange(error.status, error.message);
    return;
  }
  if (exchange_.upstream.conn()->connected()) {
    sendRequest();
  }
}

void Session::onUpstreamConnected(UpstreamConnection* conn) {
  if (conn == exchange_.upstream.conn()) {
    sendRequest();
  }
}

void Session::sendRequest() {
  exchange_.upstream.send();
  updateReading();
}

bool Session::abandonUpstream() {
  exchange_.upstream.abandon();
  if (exchange_.response_started) {
    close();
    return false;
  }
  return true;
}

void Session::onUpstreamFailed(UpstreamConnection* conn, UpstreamFailure failure) {
  Exchange& ex = exchange_;
  if (conn != ex.upstream.conn()) {
    return;
  }
  if (!ex.active || state_ != State::kOpen) {
    ex.upstream.dropConnection();
    return;
  }
  UpstreamRequest::Next next = ex.upstream.onFailure(conn, failure);
  if (next.retry) {
    dispatch();
    return;
  }
  failExchange(next.error.status, next.error.message);
}

// ---- the response ---------------------------------------------------------------------------

bool Session::retriesOnStatus(int status) {
  return exchange_.upstream.retriesOnStatus(status, exchange_.request_complete);
}

int Session::onUpstreamHeaders(UpstreamConnection* conn) {
  Exchange& ex = exchange_;
  const http::Parser& resp = conn->response();
  int status = resp.status();
  std::string& head = worker_->headScratch();  // shared by the loop: used only in this call
  if (status < 200 && status != 101) {
    if (!ex.client_http10) {
      copyInterimHead(resp, &head);  // 100 Continue and the like go through as they are
      out_.addCopy(head);
    }
    return 0;
  }
  ex.response_started = true;
  ex.upstream.onResponseHead(status);
  bool no_body = ex.head_request || status == 204 || status == 304 || status == 101;
  if (!no_body && !resp.hasContentLength()) {
    if (ex.client_http10) {
      ex.close_after = true;  // the body ends when the connection does
    } else {
      ex.rechunk_response = true;
    }
  }
  bool keep_alive = ex.client_keep_alive && !ex.close_after && !draining_;
  if (!keep_alive && status != 101) {
    ex.close_after = true;
  }
  if (ex.filters != nullptr && ex.filters->wantsResponseHead()) {
    filters::ResponseFacts facts;
    facts.status = status;
    facts.headers = &resp.headers();
    if (resp.hasContentLength()) {
      facts.content_length = resp.contentLength();
    }
    ex.filters->runResponseHead(filter_ctx_, facts);
    if (filter_ctx_.out.response_body_rewritten && !no_body) {
      // The body's length changes on the way: chunked, or ended by closing for HTTP/1.0.
      if (ex.client_http10) {
        ex.close_after = true;
        keep_alive = false;
      } else {
        ex.rechunk_response = true;
      }
    }
  }
  ResponseRewrite rewrite;
  rewrite.request_id = buffers().request_id;
  rewrite.extra_headers = buffers().response_headers;
  rewrite.rechunk = ex.rechunk_response;
  rewrite.body_rewritten = filter_ctx_.out.response_body_rewritten && !no_body;
  rewrite.keep_alive = keep_alive;
  rewrite.client_http10 = ex.client_http10;
  rewriteResponseHead(resp, rewrite, &head);
  out_.addCopy(head);
  record_.status = status;
  record_.bytes_out += head.size();
  return 0;
}

int Session::onUpstreamBody(const char* data, size_t len) {
  const filters::FilterChain* chain = exchange_.filters;
  if (chain != nullptr && chain->wantsResponseBody()) {
    ClientBody client(this);
    chain->runResponseBody(filter_ctx_, {data, len}, false, client);
    return 0;
  }
  record_.bytes_out += len;
  if (exchange_.rechunk_response) {
    out_.addChunkRef(data, len);
  } else {
    out_.addRef(data, len);
  }
  return 0;
}

void Session::ClientBody::write(std::string_view bytes) {
  // What a filter made may live in its own buffer, reused after this call: copied.
  Session& s = *session_;
  s.record_.bytes_out += bytes.size();
  if (s.exchange_.rechunk_response) {
    char size_line[24];
    s.out_.addCopy(size_line, http::formatChunkHeader(size_line, bytes.size()));
    s.out_.addCopy(bytes);
    s.out_.addCopy("\r\n", 2);
  } else {
    s.out_.addCopy(bytes);
  }
}

void Session::onUpstreamReadDone(UpstreamConnection* conn) {
  flushOut();
  if (out_.aboveHighWater() && state_ == State::kOpen) {
    conn->pauseReading();  // resumed when the client drains (onOutputDrained)
    // A client that leaves its response unread this long is closed; the timer is the
    // session's own while a response streams (no header or idle wait runs then).
    startTimer(snapshot_->config().timeouts.client_write);
    client_write_timer_ = true;
  }
}

void Session::onUpstreamComplete(UpstreamConnection* conn, bool reusable) {
  Exchange& ex = exchange_;
  record_.upstream_end_ns = uv_hrtime();
  if (ex.filters != nullptr && ex.filters->wantsResponseBody()) {
    ClientBody client(this);
    ex.filters->runResponseBody(filter_ctx_, {}, true, client);  // what the filters hold
  }
  logExchange(conn->response().status());
  if (ex.rechunk_response) {
    out_.addCopy("0\r\n\r\n", 5);
  }
  flushOut();
  if (state_ == State::kClosed) {
    return;  // the client went away while we wrote; close() has closed `conn` too
  }
  ex.upstream.finish(conn, reusable && ex.request_complete);
  if (state_ != State::kOpen) {
    return;
  }
  ex.active = false;
  if (ex.close_after || draining_ || !ex.client_keep_alive || !ex.request_complete) {
    closeWhenFlushed();
    return;
  }
  processPending();
  updateReading();
}

void Session::onUpstreamAborted(UpstreamConnection* conn) {
  if (conn != exchange_.upstream.conn()) {
    return;
  }
  LOG_WARN("request_id=%s upstream response aborted", requestId());
  exchange_.upstream.dropConnection();
  flushOut();
  close();  // the client sees a truncated response, as it must
}

void Session::onUpstreamUpgraded(UpstreamConnection* conn, const char* rest, size_t len) {
  if (conn->response().status() != 101) {
    // A non-101 answer to an upgrade request: llhttp still treats it as a switch.
    onUpstreamComplete(conn, false);
    return;
  }
  enterTunnel(conn, rest, len);
}

void Session::onUpstreamDrained() { updateReading(); }

// ---- tunnels (after 101 Switching Protocols) --------------------------------------------------

void Session::enterTunnel(UpstreamConnection* conn, const char* rest, size_t len) {
  logExchange(101);
  state_ = State::kTunnel;
  if (int64_t expires_s = filter_ctx_.out.token_expires_s; expires_s != 0) {
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
  if (!pending_input_.empty()) {
    conn->out().addCopy(pending_input_);
    pending_input_.clear();
    exchange_.upstream.flush();
  }
  startTimer(snapshot_->config().timeouts.tunnel_idle);
  updateReading();
}

void Session::onTunnelFromUpstream(const char* data, size_t len) {
  out_.addRef(data, len);
  flushOut();
  startTimer(snapshot_->config().timeouts.tunnel_idle);
  if (out_.aboveHighWater() && exchange_.upstream.conn() != nullptr) {
    exchange_.upstream.conn()->pauseReading();
  }
}

void Session::onTunnelClosedByUpstream() {
  exchange_.upstream.dropConnection();
  closeWhenFlushed();
}

// ---- writing to the client ----------------------------------------------------------------

void Session::flushOut() {
  // With TLS there may be records to send (handshake, alerts) even with nothing added.
  if ((out_.empty() && tls_ == nullptr) || state_ == State::kClosed) {
    return;
  }
  int r = out_.flush();
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
  UpstreamConnection* conn = exchange_.upstream.conn();
  if (conn != nullptr && (state_ == State::kTunnel || exchange_.response_started)) {
    if (client_write_timer_) {
      stopTimer();  // the client took its response: client_write starts over
    }
    conn->resumeReading();
  }
  updateReading();
}

void Session::onOutputError(int) { close(); }

void Session::reply(int status, std::string_view message, bool close_after,
                    std::string_view extra_headers) {
  Exchange& ex = exchange_;
  ex.local = true;
  ex.response_started = true;
  if (close_after) {
    ex.close_after = true;
  }
  const std::string& request_id = buffers().request_id;
  std::string body;
  body.reserve(96);
  body.append("{\"error\":\"").append(message).append("\",\"request_id\":\"");
  body.append(request_id).append("\"}\n");
  std::string& head = worker_->headScratch();
  head.clear();
  head.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  head.append(http::reasonPhrase(status)).append("\r\n");
  head.append("Content-Type: application/json\r\nContent-Length: ");
  head.append(std::to_string(body.size())).append("\r\n");
  head.append("X-Request-Id: ").append(request_id).append("\r\n");
  head.append(extra_headers);
  if (ex.close_after || draining_ || !ex.client_keep_alive) {
    head.append("Connection: close\r\n");
  } else if (ex.client_http10) {
    head.append("Connection: keep-alive\r\n");
  }
  head.append("\r\n");
  if (!ex.head_request) {
    head.append(body);
  }
  if (!record_.open) {
    record_.begin(uv_hrtime());  // an error before the request began
  }
  record_.bytes_out += head.size();
  logExchange(status);
  out_.addCopy(head);
  flushOut();
  if (ex.close_after) {
    closeWhenFlushed();
  }
}

void Session::failExchange(int status, std::string_view message,
                           std::string_view extra_headers) {
  Exchange& ex = exchange_;
  if (ex.response_started) {
    close();
    return;
  }
  bool body_unread = !ex.request_complete && parser_.hasBody();
  reply(status, message, ex.close_after || body_unread, extra_headers);
  if (ex.request_complete && state_ == State::kOpen && !close_when_flushed_) {
    // Outside the parser: the next pipelined request may go on.
    ex.active = false;
    if (draining_ || !ex.client_keep_alive) {
      closeWhenFlushed();
      return;
    }
    processPending();
    updateReading();
  }
}

// ---- timers and closing -----------------------------------------------------------------------

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
      if (!self->close_when_flushed_ && self->in_message_ && !self->exchange_.active) {
        self->worker_->newRequestId(&self->buffers().request_id);
        self->exchange_.active = true;
        self->reply(408, "request header timeout", true);
        return;
      }
      self->close();  // keep-alive idle, or a client that would not read its answer
      return;
    case State::kTunnel:
      if (self->tunnel_expires_ms_ != 0 && now >= self->tunnel_expires_ms_) {
        LOG_INFO("request_id=%s client=%s the token of this WebSocket expired: closed",
                 self->requestId(), self->client_ip_);
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
  if (tls_ != nullptr && tls_->handshakeDone()) {
    tls_->shutdown();  // close_notify, so the client knows the response was not cut
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
  if (exchange_.client_keep_alive || !exchange_.request_complete || in_message_ ||
      !pending_input_.empty()) {
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
  if (state_ == State::kOpen && !exchange_.active && !in_message_) {
    close();
  }
}

void Session::close() {
  if (state_ == State::kClosed) {
    return;
  }
  if (record_.open) {
    logExchange(record_.status != 0 ? record_.status : 499);  // 499: the client left first
  }
  state_ = State::kClosed;
  if (alive_) {
    *alive_ = nullptr;
  }
  exchange_.upstream.abandon();
  if (buffers_ != nullptr) {
    out_.discard();
    parser_.detachHead();
    out_.detachStorage();
    worker_->returnBuffers(buffers_);
    buffers_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Session::onClose);
}

Session::~Session() = default;

void Session::logExchange(int status) {
  if (!record_.open) {
    return;
  }
  ExchangeFacts facts;
  facts.status = status;
  if (record_.head && buffers_ != nullptr) {
    facts.method = parser_.methodName();
    facts.path = parser_.target();
    facts.user = buffers_->user;
  }
  if (buffers_ != nullptr) {
    facts.request_id = buffers_->request_id;
  }
  facts.client = clientIp();
  if (tls_ != nullptr) {
    facts.tls_version = tls_->versionName();
  }
  AccessLogSink* sink = listener_->config->access_log ? worker_->accessLog() : nullptr;
  recordExchange(&record_, facts, *snapshot_, *listener_->config, metrics_, sink,
                 &worker_->logScratch());
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
