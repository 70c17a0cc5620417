// HTTP/1.1 requests on the connection: the parser's events, pipelining (one exchange at a
// time; what comes after waits), and parse errors as 4xx answers.
#include "balancer/downstream/session.h"

#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/http/header_list.h"
#include "common/log/log.h"
#include "common/tls/connection.h"

namespace balancer {

namespace {

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

void Session::afterParse(const http::Parser::Result& result, const char* data, size_t len,
                         bool from_pending) {
  // The body pieces refer to the input: send them before it is reused.
  if (exchange_) {
    exchange_->upstream().flush();
  }
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
        pendingInput().erase(0, result.consumed);
      } else {
        pendingInput().append(data + result.consumed, len - result.consumed);
      }
      break;
    case http::Parser::Status::kOk:
      if (from_pending) {
        pendingInput().clear();
      }
      break;
  }
  flushOut();
  if (exchangeActive() && exchange_->local() && exchange_->requestComplete() &&
      (!exchange_->responseStarted() || exchange_->localBodyPending())) {
    return;  // a filter's answer is still coming (a file being read)
  }
  if (exchangeActive() && exchange_->local() && exchange_->requestComplete() &&
      state_ == State::kOpen) {
    // Answered by the balancer and fully read: the next request may go on.
    exchange_->finishLocal();
    if (framing_.close_after || draining_ || !framing_.keep_alive) {
      closeWhenFlushed();
    }
  }
}

void Session::processPending() {
  while (state_ == State::kOpen && !exchangeActive() && !close_when_flushed_ &&
         hasPendingInput()) {
    if (parser_paused_) {
      parser_.resume();
      parser_paused_ = false;
    }
    // Parse from a copy-free view of the pending input; afterParse trims what was used.
    const std::string& pending = pendingInput();
    http::Parser::Result result = parser_.execute(pending.data(), pending.size());
    afterParse(result, pending.data(), pending.size(), true);
  }
  if (state_ == State::kOpen && !exchangeActive() && !close_when_flushed_ && !in_message_) {
    if (parser_paused_) {
      parser_.resume();
      parser_paused_ = false;
    }
    startTimer(snapshot_->config().timeouts.client_idle);
    releaseSlotLater();
  }
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
  if (exchangeActive() && !exchange_->local() && !exchange_->abandonUpstream()) {
    return;  // the error is in the body, and the response had begun
  }
  if (exchangeActive() && exchange_->responseStarted()) {
    // The balancer answered already (a file, a cached object) and was dropping the body:
    // no second answer; the connection ends after the first (at once if it is still going).
    if (exchange_->localBodyPending()) {
      close();
    } else {
      closeWhenFlushed();
    }
    return;
  }
  if (!exchangeActive()) {
    newExchange(true);
  }
  framing_.http10 = false;
  LOG_INFO("request_id=%s client=%s status=%d error=\"%s: %s\"", buffers().request_id.c_str(),
           client_ip_, status, std::string(message).c_str(), parser_.errorReason());
  exchange_->reply(status, message, true);
}

Exchange& Session::newExchange(bool bare) {
  ExchangeBuffers& buf = buffers();
  ExchangeStart start;
  start.snapshot = snapshot_;
  start.metrics = metrics_;
  if (bare) {
    worker_->newRequestId(&buf.request_id);
    buf.response_headers.clear();
    framing_ = Framing{};
  } else {
    llhttp_method_t method = parser_.method();
    start.head_request = method == HTTP_HEAD;
    start.chunked_request = parser_.chunked();
    start.upgrade = parser_.upgrade();
  }
  exchange_ = &slot_->exchange.emplace(this, &slot_->env, start, ++exchanges_);
  return *exchange_;
}

int Session::onMessageBegin() {
  in_message_ = true;
  record().begin(uv_hrtime());  // the slot lends the parser its head storage
  startTimer(snapshot_->config().timeouts.client_header);
  return 0;
}

int Session::onHeadersComplete() {
  stopTimer();
  if (snapshot_ != worker_->snapshot()) {
    worker_->follow(&snapshot_, &listener_, &metrics_);  // SIGHUP: new exchanges, new config
    slot().env.listener = listener_;
    slot_->env.listener_index = listenerIndex();
  }
  record().head = true;
  ExchangeBuffers& buf = slot_->buffers;
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
  framing_ = Framing{};  // built fresh: nothing of the last exchange is left
  framing_.http10 = parser_.versionMajor() == 1 && parser_.versionMinor() == 0;
  framing_.keep_alive = parser_.keepAlive();
  bool upgrade = parser_.upgrade();
  if (upgrade && method != HTTP_CONNECT && !upgradesToWebSocket(headers)) {
    // Only WebSocket is tunnelled: an h2c or TLS upgrade is served as the plain HTTP/1.1
    // request it also is (RFC 9110 section 7.8 lets a server ignore Upgrade), and its
    // Upgrade header is not forwarded, so no backend switches this connection to h2.
    parser_.ignoreUpgrade();
    upgrade = false;
  }
  Exchange& ex = newExchange(false);
  if (method == HTTP_CONNECT) {
    ex.reply(405, "CONNECT is not supported", true);
    return kPause;
  }
  if (upgrade) {
    // Unless the upstream switches protocols, nothing after this request can be parsed.
    framing_.close_after = true;
  }
  ex.start();
  return close_when_flushed_ ? kPause : 0;
}


int Session::onBody(const char* data, size_t len) {
  return exchange_->onRequestBody(data, len) ? 0 : kPause;
}

int Session::onMessageComplete() {
  in_message_ = false;
  Exchange& ex = *exchange_;
  ex.onRequestComplete();
  // One exchange at a time: pipelined requests wait until this response is written.
  // An upgrade pauses by itself, with the tunnel's first bytes after it.
  return ex.upgrade() ? 0 : kPause;
}


}  // namespace balancer
