#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <uv.h>

#include "balancer/routing/router.h"
#include "common/http/header_list.h"

namespace compression {
class EncoderPool;
}  // namespace compression

namespace jwt {
class TokenCache;
class Verifier;
}  // namespace jwt

namespace balancer {

class WorkerMetrics;

namespace rate_limit {
class LocalLimiter;
class RedisLimiter;
}  // namespace rate_limit

namespace static_files {
class OpenFileCache;
}  // namespace static_files

namespace filters {

// Where a local response's body goes: the exchange, which writes it to the client.
class LocalBodySink {
 public:
  // The next piece of the body (copied before the call returns).
  virtual void onBody(std::string_view piece) = 0;
  // The body is complete.
  virtual void onEnd() = 0;
  // The body cannot be finished (a read failed): the exchange closes the connection, as a
  // proxy does when an upstream's body breaks off.
  virtual void onFailed() = 0;

 protected:
  ~LocalBodySink() = default;
};

// A part of an open file. A local response whose body is one (a static file) offers it, so
// that a codec that can send a file by itself (sendfile(2) on plain TCP) takes it whole
// instead of pulling its bytes through the balancer.
struct FileRegion {
  int fd = -1;  // the response's: valid while the response lives
  uint64_t offset = 0;
  uint64_t length = 0;
  // Its bytes were just read into the page cache (static_files::OpenFile::pages_read): sending
  // them will not wait on the disk, so it may run on the loop rather than the thread pool.
  bool in_page_cache = false;
};

// A response the balancer makes itself instead of asking an upstream: a cached object, a
// file. The exchange frames it (Content-Length or chunked, Connection, X-Request-Id), writes
// its head, then pulls its body piece by piece as the client drains, so a large body never
// sits whole in the output queue. It goes through the route's response filters like an
// upstream's response (a file can be compressed).
class LocalResponse {
 public:
  virtual ~LocalResponse() = default;
  int status = 200;
  // Header lines, each ending in CRLF, without Content-Length, Transfer-Encoding or Connection.
  std::string headers;
  std::optional<uint64_t> content_length;  // none: sent chunked (closed for HTTP/1.0)
  // Asks for the next piece of at most `max` bytes. The response answers once per pull, now
  // or later (a file read on the thread pool), with sink.onBody, onEnd or onFailed; it is not
  // pulled again before it has answered. Not called for HEAD or for a body-less status.
  // Destroying the response cancels it: one with a read in flight keeps what that read needs
  // alive on its own and calls the sink no more. A sink call made later (from a callback) may
  // end the exchange and destroy the response: it is the last thing that callback does with
  // the response. One made within pull() is safe: the exchange acts on it after pull returns.
  virtual void pull(LocalBodySink& sink, size_t max) = 0;
  // The body as a file region, when it is one and nothing of it was pulled; none: pull it.
  virtual std::optional<FileRegion> fileRegion() const { return std::nullopt; }
  // True when every piece given to onBody stays valid as long as the response lives (a cached
  // object's chunks): the exchange then queues it by reference instead of copying it.
  virtual bool piecesStable() const { return false; }
};

// What a filter decides at a phase: go on to the next filter, answer locally (the request
// goes no further), or pause until it calls its Resumer (the Redis rate limit does).
struct Verdict {
  enum class Action : uint8_t { kContinue, kReply, kPause, kRespond };
  Action action = Action::kContinue;
  int status = 0;        // kReply: the answer's status
  std::string message;   // kReply: the error message of its JSON body
  // Header lines, each ending in CRLF. kReply: added to the answer. kContinue: added to the
  // response the exchange gets later (a rate limit's RateLimit-Remaining, CORS headers).
  std::string headers;
  bool close = false;    // kReply: close the connection after it, even if it could be kept
  std::shared_ptr<LocalResponse> response;  // kRespond: the whole answer (a cache hit, a file)

  static Verdict next() { return {}; }
  static Verdict next(std::string response_headers) {
    Verdict v;
    v.headers = std::move(response_headers);
    return v;
  }
  static Verdict pause() {
    Verdict v;
    v.action = Action::kPause;
    return v;
  }
  static Verdict reply(int status, std::string message, std::string headers = {}) {
    Verdict v;
    v.action = Action::kReply;
    v.status = status;
    v.message = std::move(message);
    v.headers = std::move(headers);
    return v;
  }
  // Answers with a response of the filter's own making: no upstream is asked.
  static Verdict respond(std::shared_ptr<LocalResponse> response) {
    Verdict v;
    v.action = Action::kRespond;
    v.response = std::move(response);
    return v;
  }
  bool goesOn() const { return action == Action::kContinue; }
};

// The request as filters see it, gathered by the codec once its head is read.
struct RequestFacts {
  const http::HeaderList* headers = nullptr;
  std::string_view method;      // "GET", "POST", ... (the cache keys and invalidates by it)
  std::string_view raw_target;  // as the client sent it
  RequestTarget target;         // split and normalized (see splitTarget)
  std::string_view client_ip;
  std::optional<uint64_t> content_length;  // none: no body, or a chunked one
  bool has_body = false;
  bool upgrade = false;  // a WebSocket upgrade
  bool background = false;  // the balancer's own request (a cache refresh): no client waits
  int route = -1;        // index in the config's routes; -1 before routing
  int https_port = 443;  // where this listener's redirect_to_https sends clients
};

// The response as filters see it once its head is read. For a local response (a filter's
// kRespond) `headers` is null and `local_headers` holds its lines.
struct ResponseFacts {
  int status = 0;
  const http::HeaderList* headers = nullptr;
  std::string_view local_headers;
  std::optional<uint64_t> content_length;
  bool local = false;
};

// Why no upstream response came (for a filter that can answer anyway: stale-if-error).
struct UpstreamErrorFacts {
  int status = 0;  // what the client would get: 502, 503, 504
  bool timeout = false;
};

// What filters leave on the exchange: for the forwarded request, the rate limits and the log.
// The strings are the exchange's buffers (leased per exchange, reused without allocating).
struct FilterOutput {
  std::string* user = nullptr;              // a verified token's sub
  std::string* identity_headers = nullptr;  // header lines added to the forwarded request
  std::string* limit_key = nullptr;         // scratch for a rate limit bucket's key
  std::string* response_headers = nullptr;  // header lines added to the response
  // A response-body filter will change the body (compress it): the response goes out without
  // the upstream's Content-Length, chunked (or ended by closing, to an HTTP/1.0 client).
  // Set at the response head.
  bool response_body_rewritten = false;
  // The body changes but stays equivalent (compressed): a strong ETag is sent weak (W/"..."),
  // as it no longer names these bytes. Set at the response head.
  bool weaken_etag = false;
  // Upstream response fields a filter answers for itself with lines of its own (the cache's
  // X-Cache, CORS's Access-Control-Allow-Origin): left out of what the client gets. Each
  // filter appends its names (static strings), at the request or the response head.
  std::vector<std::string_view>* replaced_response_headers = nullptr;
  // Client request fields a filter answers for itself, left out of the forwarded request (the
  // cache's revalidation sends its stored validators instead of the client's conditions).
  // Names are static strings, appended at the request head.
  std::vector<std::string_view>* dropped_request_headers = nullptr;
  // Set by a response-head or upstream-error filter: the client gets this instead of the
  // upstream's response (a cached object after a 304 revalidation, a stale object when the
  // origin failed). The upstream's body is read and dropped.
  std::shared_ptr<LocalResponse> replacement;
  bool drop_access_token = false;           // the token came in the query: not forwarded
  int64_t token_expires_s = 0;  // a verified token's exp plus leeway (Unix seconds); 0: none
  uint64_t body_bytes = 0;                  // request body read so far
};

// The worker's services filters use. Each worker has its own (no locks between workers);
// a unit test provides a small one without a worker or a socket.
class FilterServices {
 public:
  virtual ~FilterServices() = default;
  virtual const jwt::Verifier* verifier() = 0;  // null without keys
  virtual jwt::TokenCache& tokenCache() = 0;
  // A token's kid is not among the keys: keys fetched from a URL are fetched again soon.
  virtual void refetchKeys() {}
  virtual rate_limit::LocalLimiter& localLimiter() = 0;
  virtual rate_limit::RedisLimiter* redisLimiter() = 0;  // null without a redis section
  virtual void countRateLimitUnavailable() = 0;
  // The worker's loop: a filter's own I/O (a file read on the thread pool) runs on it.
  virtual uv_loop_t* loop() = 0;
  // The worker's idle compressors, reused from one response to the next.
  virtual compression::EncoderPool& encoderPool() = 0;
  // The worker's recent file lookups for static routes; null: every request looks its file up.
  virtual static_files::OpenFileCache* openFiles() { return nullptr; }
};

class Resumer;

// Whoever runs a chain for an exchange: it gives a filter that pauses its way back, and is
// told when that filter has decided. That may happen before the filter's onRequestHead has
// returned Verdict::pause() (Redis down answers at once): the host keeps that verdict and
// goes on with it when the filter returns.
class ChainHost {
 public:
  virtual Resumer pauseExchange() = 0;
  // `exchange` is the number pauseExchange() gave: an exchange that is over by then is ignored.
  virtual void onFilterResumed(uint64_t exchange, Verdict verdict) = 0;
  // Sends `request_head` (a whole HTTP/1.1 request head, no body) as a request of the
  // balancer's own through the same listener and route, in the next loop turn, with no client
  // (the cache's stale-while-revalidate refresh). `done` runs once when that request is over,
  // however it ended (answered, refused by a filter, aborted by a stopping worker). False,
  // and `done` never runs, when it cannot start.
  virtual bool startBackground(std::string /*request_head*/, std::function<void()> /*done*/) {
    return false;
  }

 protected:
  ~ChainHost() = default;
};

// A paused filter's way back. It holds only a liveness token: once the client has gone,
// alive() is false and resume() does nothing.
class Resumer {
 public:
  Resumer() = default;
  Resumer(std::shared_ptr<ChainHost*> host, uint64_t exchange)
      : host_(std::move(host)), exchange_(exchange) {}
  bool alive() const { return host_ && *host_ != nullptr; }
  void resume(Verdict verdict) const {
    if (alive()) {
      (*host_)->onFilterResumed(exchange_, std::move(verdict));
    }
  }

 private:
  std::shared_ptr<ChainHost*> host_;
  uint64_t exchange_ = 0;
};

// Where a response-body filter writes what it makes: the next filter, then the client.
class BodySink {
 public:
  virtual void write(std::string_view bytes) = 0;

 protected:
  ~BodySink() = default;
};

// A filter's own state for one exchange (a compressor's stream), kept in its FilterContext.
class FilterState {
 public:
  virtual ~FilterState() = default;
};

// One exchange's pass through a chain: the request, what filters leave, the worker's
// services, and the metrics block of the snapshot the exchange was routed by. Built fresh
// for each request (Session::startFilters sets each field: one added here is set there). What
// a paused filter uses later is valid while its Resumer is alive().
struct FilterContext {
  RequestFacts request;
  FilterOutput out;
  FilterServices* services = nullptr;
  WorkerMetrics* metrics = nullptr;
  ChainHost* host = nullptr;
  // Per-filter state, made on first use (most exchanges have none: nothing is allocated).
  std::vector<std::pair<const void*, std::unique_ptr<FilterState>>> states;

  // The state `filter` keeps for this exchange, or null.
  template <typename State>
  State* stateOf(const void* filter) {
    for (auto& [owner, state] : states) {
      if (owner == filter) {
        return static_cast<State*>(state.get());
      }
    }
    return nullptr;
  }
  template <typename State>
  State& makeState(const void* filter) {
    states.emplace_back(filter, std::make_unique<State>());
    return static_cast<State&>(*states.back().second);
  }
};

// A stage of a route's (or a listener's) request processing. Filters are built with the
// snapshot and shared by every worker: they keep no per-request state of their own (that is
// in the FilterContext) and what they change lives in the worker's services.
class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // The request head is read.
  virtual Verdict onRequestHead(FilterContext& ctx) = 0;
  // A piece of the request body is read (only filters that say wantsRequestBody()).
  virtual Verdict onRequestBody(FilterContext& /*ctx*/, std::string_view /*piece*/) {
    return Verdict::next();
  }
  virtual bool wantsRequestBody() const { return false; }
  // The upstream's final response head arrived (only filters that say wantsResponseHead()):
  // the filter may add header lines to what the client gets (ctx.out.response_headers).
  virtual void onResponseHead(FilterContext& /*ctx*/, const ResponseFacts& /*response*/) {}
  virtual bool wantsResponseHead() const { return false; }
  // A piece of the response body (only filters that say wantsResponseBody()), in order; what
  // the filter makes of it goes to `next`. With `end` the body is over (`piece` is empty):
  // what the filter still holds goes to `next` now. A filter that changes the body's length
  // sets ctx.out.response_body_rewritten at the response head.
  virtual void onResponseBody(FilterContext& /*ctx*/, std::string_view piece, bool /*end*/,
                              BodySink& next) {
    next.write(piece);
  }
  virtual bool wantsResponseBody() const { return false; }
  // Whether this exchange's response body passes the filter unread and unchanged (asked of
  // filters that want bodies): then a file's body may go to the client by the codec's own
  // means, never through onResponseBody. Compress says so when it does not encode.
  virtual bool leavesResponseBody(FilterContext& /*ctx*/) const { return false; }
  // No upstream response will come (only filters that say wantsUpstreamError()): the filter
  // may set ctx.out.replacement to answer anyway; else the client gets the error.
  virtual void onUpstreamError(FilterContext& /*ctx*/, const UpstreamErrorFacts& /*error*/) {}
  virtual bool wantsUpstreamError() const { return false; }
  // The exchange is over, its response sent or broken off (only filters that say
  // wantsLog()): what a filter counts per exchange (a cache's hit or miss) is counted here.
  virtual void onLog(FilterContext& /*ctx*/, int /*status*/) {}
  virtual bool wantsLog() const { return false; }
};

}  // namespace filters
}  // namespace balancer
