// HTTP/1.1 requests on the connection: the parser's events, pipelining (one exchange at a
// time; what comes after waits), and parse errors as 4xx answers.
#include "balancer/downstream/session.h"

#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/http/header_list.h"
#include "common/log/log.h"

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


}  // namespace balancer
