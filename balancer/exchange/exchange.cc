// The exchange: the listener's and the route's filters, routing, the upstream request and
// its retries, the response on its way back (through the response filters), and the access
// log. The answers the balancer makes itself are in exchange_local.cc.
#include "balancer/exchange/exchange.h"

#include <uv.h>

#include "balancer/access_log/exchange_record.h"
#include "balancer/downstream/listener_runtime.h"
#include "balancer/exchange/background_exchange.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/exchange/head_rewrite.h"
#include "balancer/snapshot.h"
#include "balancer/upstream/upstream_pool.h"
#include "balancer/worker/worker.h"
#include "common/log/log.h"

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

// Whether a client marked a non-idempotent request safe to send twice, as Go's net/http
// Transport reads it (isReplayable): an Idempotency-Key or X-Idempotency-Key field.
bool hasIdempotencyKey(const http::HeaderList& headers) {
  bool found = false;
  headers.find("Idempotency-Key", &found);
  if (!found) {
    headers.find("X-Idempotency-Key", &found);
  }
  return found;
}

}  // namespace

Exchange::Exchange(ExchangeCodec* codec, const ExchangeEnv* env, const ExchangeStart& start,
                   uint64_t number)
    : codec_(codec),
      env_(env),
      snapshot_(start.snapshot),
      metrics_(start.metrics),
      number_(number),
      head_request_(start.head_request),
      upgrade_(start.upgrade),
      chunked_request_(start.chunked_request),
      background_(start.background) {
  client_.reset(env->client_ip);  // until start() reads the head
}

Exchange::~Exchange() {
  if (alive_) {
    *alive_ = nullptr;
  }
}

std::string_view Exchange::requestId() const { return env_->buffers->request_id; }

bool Exchange::headOnly(int status) const {
  return head_request_ || status < 200 || status == 204 || status == 304;
}

void Exchange::start() {
  filters::FilterContext& ctx = ctx_;
  filters::RequestFacts& req = ctx.request;
  const http::Parser& request = *env_->request;
  req.headers = &request.headers();
  req.method = request.methodName();
  req.raw_target = request.target();
  client_.resolve(env_->client_ip, request.headers(), snapshot_->config().trusted_proxies);
  req.client_ip = client_.ip();
  if (request.hasContentLength()) {
    req.content_length = request.contentLength();
  }
  req.has_body = request.hasBody();
  req.upgrade = upgrade_;
  req.background = background_;
  req.https_port = env_->listener->https_port;
  ExchangeBuffers& buf = *env_->buffers;
  ctx.out.user = &buf.user;
  ctx.out.identity_headers = &buf.identity_headers;
  ctx.out.limit_key = &buf.limit_key;
  ctx.out.response_headers = &buf.response_headers;
  buf.replaced_response_headers.clear();
  ctx.out.replaced_response_headers = &buf.replaced_response_headers;
  buf.dropped_request_headers.clear();
  ctx.out.dropped_request_headers = &buf.dropped_request_headers;
  ctx.services = env_->services;
  ctx.metrics = metrics_;
  ctx.host = this;
  const filters::FilterChain& chain = snapshot_->listenerFilters(env_->listener_index);
  if (chain.empty() || runFilters(chain, 0)) {
    routeRequest();
  }
}

void Exchange::routeRequest() {
  filters::RequestFacts& req = ctx_.request;
  const http::Parser& request = *env_->request;
  req.target = splitTarget(request.target(), request.headers().find(http::HeaderKind::kHost),
                           &env_->buffers->path);
  if (req.target.path_invalid) {
    close_after_ = true;
    fail(400, "invalid path: a bad %-escape, or '..' above the root");
    return;
  }
  int route = snapshot_->router().match(req.target.host, req.target.path,
                                            request.methodName());
  env_->record->route = route;
  req.route = route;
  if (route < 0) {
    fail(404, "no route");
    return;
  }
  UpstreamRequest::Setup& setup = upstream_.setup();
  if (!snapshot_->config().routes[static_cast<size_t>(route)].upstream.empty()) {
    // A static route forwards nothing, and a config of static routes only has no pool.
    size_t upstream = snapshot_->upstreamOfRoute(static_cast<size_t>(route));
    setup.pool = &env_->worker->pool(snapshot_, upstream);
    setup.counters = &metrics_->upstream(upstream);
  }
  setup.listener = this;
  setup.buffers = env_->buffers;
  setup.record = env_->record;
  setup.worker_id = env_->worker->id();
  setup.request_id = env_->buffers->request_id;
  setup.idempotent = isIdempotent(request.method());
  // Go's net/http Transport also sends such a request again (stale_retry.h).
  setup.idempotency_key = !setup.idempotent && hasIdempotencyKey(request.headers());
  setup.head_request = head_request_;
  setup.upgrade = upgrade_;
  setup.chunked = chunked_request_;
  filters_ = &snapshot_->routeFilters(static_cast<size_t>(route));
  if (filters_->empty() || runFilters(*filters_, 0)) {
    forwardRequest();
  }
}

void Exchange::forwardRequest() {
  const RouteConfig& rc = snapshot_->config().routes[static_cast<size_t>(env_->record->route)];
  buildUpstreamHead(rc.strip_prefix);
  dispatch();
}

bool Exchange::runFilters(const filters::FilterChain& chain, size_t from) {
  size_t at = 0;
  resumed_inside_.reset();
  filters_running_ = true;
  filters::Verdict verdict = chain.runRequestHead(ctx_, from, &at);
  filters_running_ = false;
  if (verdict.action != filters::Verdict::Action::kPause) {
    resumed_inside_.reset();  // only a filter that pauses may be resumed
  } else {
    paused_chain_ = &chain;
    paused_at_ = at;
    if (!resumed_inside_) {
      return false;  // onFilterResumed goes on
    }
    verdict = std::move(*resumed_inside_);  // it decided before it returned (Redis is down)
    resumed_inside_.reset();
    if (verdict.goesOn()) {
      ctx_.out.response_headers->append(verdict.headers);
      return runFilters(chain, at + 1);
    }
  }
  if (verdict.goesOn()) {
    return true;  // the chain kept what the filters add to the response
  }
  // A listener's filter answered before routing: no route's response filters apply.
  answerFromFilter(verdict, &chain == filters_ ? at : 0);
  return false;
}

void Exchange::answerFromFilter(filters::Verdict& verdict, size_t filter_index) {
  if (verdict.close) {
    close_after_ = true;
  }
  if (verdict.action == filters::Verdict::Action::kRespond && verdict.response) {
    local_ = true;  // the request body, if any, is read and dropped
    ctx_.out.response_headers->append(verdict.headers);
    startLocalResponse(std::move(verdict.response), filter_index);
    return;
  }
  fail(verdict.status, verdict.message, verdict.headers);
}

filters::Resumer Exchange::pauseExchange() {
  if (!alive_) {
    alive_ = std::make_shared<filters::ChainHost*>(this);
  }
  return filters::Resumer(alive_, number_);
}

bool Exchange::startBackground(std::string request_head, std::function<void()> done) {
  if (background_ || env_->worker == nullptr || env_->worker->stopping()) {
    return false;  // a refresh does not start another; a stopping worker starts nothing
  }
  BackgroundExchange::launch(*env_, snapshot_, metrics_, std::move(request_head),
                             std::move(done));
  return true;
}

void Exchange::onFilterResumed(uint64_t exchange, filters::Verdict verdict) {
  if (exchange != number_ || !active_ || !codec_->open()) {
    return;  // the client left, or the exchange ended, while the filter waited
  }
  if (filters_running_) {
    resumed_inside_ = std::move(verdict);
    return;
  }
  const filters::FilterChain& chain = *paused_chain_;
  if (!verdict.goesOn()) {
    answerFromFilter(verdict, &chain == filters_ ? paused_at_ : 0);
    return;
  }
  ctx_.out.response_headers->append(verdict.headers);
  if (!runFilters(chain, paused_at_ + 1)) {
    return;
  }
  if (&chain == filters_) {
    forwardRequest();
  } else {
    routeRequest();  // a listener's filter paused
  }
}

void Exchange::buildUpstreamHead(std::string_view strip_prefix) {
  RequestRewrite rewrite;
  rewrite.strip_prefix = strip_prefix;
  rewrite.client_ip = env_->client_ip;
  rewrite.keep_forwarded_for = client_.peerTrusted();
  rewrite.request_id = env_->buffers->request_id;
  rewrite.tls = env_->tls;
  rewrite.upgrade = upgrade_;
  rewrite.default_host = upstream_.pool()->upstream().config->name;
  rewrite.drop_headers = snapshot_->identityHeaders();
  rewrite.filter_drop_headers = env_->buffers->dropped_request_headers;
  rewrite.extra_headers = env_->buffers->identity_headers;
  if (ctx_.out.drop_access_token) {
    rewrite.drop_query_param = "access_token";
  }
  size_t dropped_underscore = 0;
  rewrite.dropped_underscore = &dropped_underscore;
  rewriteRequestHead(*env_->request, ctx_.request.target, rewrite, &env_->buffers->upstream_head);
  if (dropped_underscore > 0) {
    metrics_->countHeadersDropped(env_->record->route, dropped_underscore);
  }
}

void Exchange::dispatch() {
  UpstreamError error;
  if (!upstream_.dispatch(&error)) {
    failUpstream(error, false);
    return;
  }
  if (upstream_.conn()->connected()) {
    sendRequest();
  }
}

void Exchange::onUpstreamConnected(UpstreamConnection* conn) {
  if (conn == upstream_.conn()) {
    sendRequest();
  }
}

void Exchange::sendRequest() {
  upstream_.send();
  codec_->onRequestBodyWanted();
}

bool Exchange::onRequestBody(const char* data, size_t len) {
  if (local_) {
    return true;  // answered already: the rest is dropped
  }
  if (filters_ != nullptr && filters_->wantsRequestBody()) {
    filters::Verdict verdict = filters_->runRequestBody(ctx_, {data, len});
    if (verdict.action == filters::Verdict::Action::kReply) {
      // A body filter's answer (413 for a chunked body past the route's limit): the upstream
      // has part of the request and must not take it for a whole one.
      if (abandonUpstream()) {
        reply(verdict.status, verdict.message, true, verdict.headers);
      }
      return false;
    }
  }
  upstream_.forwardBody(data, len);
  return true;
}

void Exchange::onRequestComplete() {
  request_complete_ = true;
  if (!local_ && upstream_.routed()) {
    upstream_.endBody();
  }
}

bool Exchange::abandonUpstream() {
  upstream_.abandon();
  if (response_started_) {
    codec_->abort();
    return false;
  }
  return true;
}

void Exchange::onUpstreamFailed(UpstreamConnection* conn, UpstreamFailure failure) {
  if (conn != upstream_.conn()) {
    return;
  }
  if (!active_ || !codec_->open()) {
    upstream_.dropConnection();
    return;
  }
  UpstreamRequest::Next next = upstream_.onFailure(conn, failure, request_complete_);
  if (next.retry) {
    dispatch();
    return;
  }
  failUpstream(next.error, failure == UpstreamFailure::kResponseTimeout ||
                               failure == UpstreamFailure::kConnectTimeout);
}

void Exchange::failUpstream(const UpstreamError& error, bool timeout) {
  if (filters_ != nullptr && filters_->wantsUpstreamError() && !response_started_) {
    filters::UpstreamErrorFacts facts;
    facts.status = error.status;
    facts.timeout = timeout;
    filters_->runUpstreamError(ctx_, facts);
    if (ctx_.out.replacement) {
      startLocalResponse(std::move(ctx_.out.replacement), filters_->size());
      return;
    }
  }
  fail(error.status, error.message);
}

bool Exchange::retriesOnStatus(int status) {
  return upstream_.retriesOnStatus(status, request_complete_);
}

int Exchange::onUpstreamHeaders(UpstreamConnection* conn) {
  const http::Parser& resp = conn->response();
  int status = resp.status();
  if (status < 200 && status != 101) {
    codec_->sendInterim(resp);  // 100 Continue and the like go through as they are
    return 0;
  }
  response_started_ = true;
  upstream_.onResponseHead(status);
  bool no_body = headOnly(status) || status == 101;
  if (filters_ != nullptr && filters_->wantsResponseHead()) {
    filters::ResponseFacts facts;
    facts.status = status;
    facts.headers = &resp.headers();
    if (resp.hasContentLength()) {
      facts.content_length = resp.contentLength();
    }
    filters_->runResponseHead(ctx_, facts);
    if (ctx_.out.replacement && status != 101) {
      // The client gets the filter's response (a cached object after a 304) once this one's
      // body is read and dropped, so that the connection can go back to the pool.
      replaced_ = true;
      return 0;
    }
  }
  ResponseHead head;
  head.status = status;
  head.upstream = &resp;
  head.extra_headers = env_->buffers->response_headers;
  head.no_body = no_body;
  bool rewritten = ctx_.out.response_body_rewritten && !no_body;
  if (resp.hasContentLength() && !rewritten) {
    head.content_length = resp.contentLength();
  }
  head.length_changed = rewritten;
  head.weaken_etag = ctx_.out.weaken_etag;
  head.drop_headers = *ctx_.out.replaced_response_headers;
  head.close = close_after_;
  env_->record->status = status;
  codec_->sendHead(head);
  return 0;
}

int Exchange::onUpstreamBody(const char* data, size_t len) {
  if (replaced_) {
    return 0;  // dropped: the client gets the replacement
  }
  if (filters_ != nullptr && filters_->wantsResponseBody()) {
    ClientBody client(this);
    filters_->runResponseBody(ctx_, {data, len}, false, client);
    return 0;
  }
  env_->record->bytes_out += len;
  codec_->sendBody({data, len}, true);
  return 0;
}

void Exchange::ClientBody::write(std::string_view bytes) {
  // What a filter made may live in its own buffer, reused after this call: copied.
  exchange_->env_->record->bytes_out += bytes.size();
  exchange_->codec_->sendBody(bytes, false);
}

void Exchange::onUpstreamReadDone(UpstreamConnection* conn) {
  codec_->flush();
  if (codec_->open() && codec_->outputFull()) {
    conn->pauseReading();  // resumed when the client drains (onClientDrained)
  }
}

void Exchange::onClientDrained() {
  if (local_response_) {
    if (active_ && !pulling_ && !local_ended_) {
      pullLocal();
    }
    return;
  }
  if (UpstreamConnection* conn = upstream_.conn(); conn != nullptr && response_started_) {
    conn->resumeReading();
  }
}

void Exchange::onUpstreamComplete(UpstreamConnection* conn, bool reusable) {
  env_->record->upstream_end_ns = uv_hrtime();
  if (replaced_) {
    upstream_.finish(conn, reusable && request_complete_);
    startLocalResponse(std::move(ctx_.out.replacement), filters_->size());
    return;
  }
  if (filters_ != nullptr && filters_->wantsResponseBody()) {
    ClientBody client(this);
    filters_->runResponseBody(ctx_, {}, true, client);  // what the filters hold
  }
  log(conn->response().status());
  codec_->sendEnd();
  codec_->flush();
  if (codec_->closed()) {
    return;  // the client went away while we wrote; its close has closed `conn` too
  }
  upstream_.finish(conn, reusable && request_complete_);
  if (!codec_->open()) {
    return;
  }
  complete();
}

void Exchange::complete() {
  active_ = false;
  codec_->onExchangeDone(close_after_ || !request_complete_);
}

void Exchange::onUpstreamAborted(UpstreamConnection* conn) {
  if (conn != upstream_.conn()) {
    return;
  }
  LOG_WARN("request_id=%s upstream response aborted", env_->buffers->request_id.c_str());
  upstream_.dropConnection();
  codec_->flush();
  codec_->abort();  // the client sees a truncated response, as it must
}

void Exchange::onUpstreamUpgraded(UpstreamConnection* conn, const char* rest, size_t len) {
  if (conn->response().status() != 101) {
    // A non-101 answer to an upgrade request: llhttp still treats it as a switch.
    onUpstreamComplete(conn, false);
    return;
  }
  log(101);
  codec_->enterTunnel(conn, rest, len);
}

void Exchange::onUpstreamDrained() { codec_->onRequestBodyWanted(); }

void Exchange::onTunnelFromUpstream(const char* data, size_t len) {
  codec_->onTunnelData(data, len);
}

void Exchange::onTunnelClosedByUpstream() {
  upstream_.dropConnection();
  codec_->onTunnelClosed();
}

void Exchange::onConnectionClosed(int status) {
  if (alive_) {
    *alive_ = nullptr;
  }
  if (env_->record->open) {
    log(env_->record->status != 0 ? env_->record->status : status);
  }
  upstream_.abandon();
  active_ = false;  // a local response may be inside a pull: it is freed with the exchange
}

void Exchange::log(int status) {
  ExchangeRecord* record = env_->record;
  if (!record->open) {
    return;
  }
  if (filters_ != nullptr && filters_->wantsLog()) {
    filters_->runLog(ctx_, status);
  }
  ExchangeFacts facts;
  facts.status = status;
  if (record->head) {
    facts.method = env_->request->methodName();
    facts.path = env_->request->target();
    facts.user = env_->buffers->user;
  }
  facts.request_id = env_->buffers->request_id;
  facts.client = client_.ip();
  facts.tls_version = env_->tls_version;
  AccessLogSink* sink = env_->listener->config->access_log ? env_->worker->accessLog() : nullptr;
  recordExchange(record, facts, *snapshot_, *env_->listener->config, metrics_, sink,
                 &env_->worker->logScratch());
}

}  // namespace balancer
