// The exchange: the listener's and the route's filters, routing, the upstream request and
// its retries, the response on its way back (rewritten, through the response filters), local
// answers, and the access log.
#include "balancer/downstream/session.h"

#include <algorithm>
#include <ctime>

#include "balancer/exchange/head_rewrite.h"
#include "balancer/snapshot.h"
#include "balancer/upstream/upstream_pool.h"
#include "balancer/worker/worker.h"
#include "common/http/header_list.h"
#include "common/http/status.h"
#include "common/log/log.h"
#include "common/tls/connection.h"

namespace balancer {

namespace {

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

}  // namespace

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
      snapshot_->listenerFilters(listenerIndex());
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

}  // namespace balancer
