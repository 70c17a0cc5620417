#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "balancer/exchange/client_address.h"
#include "balancer/exchange/exchange_codec.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/upstream/upstream_listener.h"
#include "balancer/upstream/upstream_request.h"

namespace balancer {

class Snapshot;
class Worker;
class WorkerMetrics;
struct ExchangeBuffers;
struct ExchangeRecord;
struct ListenerRuntime;

// What an exchange runs in, given by its codec: the connection's side of it. HTTP/1.1 has
// one per connection (its exchanges come one at a time); it outlives the exchange.
struct ExchangeEnv {
  Worker* worker = nullptr;
  const ListenerRuntime* listener = nullptr;
  size_t listener_index = 0;
  filters::FilterServices* services = nullptr;
  ExchangeBuffers* buffers = nullptr;  // leased by the codec while an exchange runs
  ExchangeRecord* record = nullptr;    // the access log record, begun by the codec
  // The request head as parsed. HTTP/1.1's parser today; an HTTP/2 codec gives its own
  // (the head rewriting reads method, target and header list only).
  const http::Parser* request = nullptr;
  std::string_view client_ip;    // the peer (after the PROXY protocol): see ClientAddress
  std::string_view tls_version;  // empty for plain TCP
  bool tls = false;
};

// What is particular to one exchange when it begins.
struct ExchangeStart {
  const Snapshot* snapshot = nullptr;  // the exchange keeps the snapshot it began with
  WorkerMetrics* metrics = nullptr;    // the block sized for `snapshot`
  bool head_request = false;
  bool upgrade = false;          // a WebSocket upgrade
  bool chunked_request = false;  // the body comes chunked
  bool background = false;       // no client: a BackgroundExchange (a cache refresh)
};

// One request and its response: the listener's and the route's filters, routing, the
// upstream request and its retries, the response on its way back (through the response
// filters), local answers (errors, and responses a filter makes: a cached object, a file),
// and the access log line. Built fresh for each request by its codec, which carries the
// bytes (ExchangeCodec); it knows nothing of HTTP/1.1 framing, keep-alive or pipelining.
class Exchange final : public filters::ChainHost, public UpstreamListener {
 public:
  Exchange(ExchangeCodec* codec, const ExchangeEnv* env, const ExchangeStart& start,
           uint64_t number);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // --- from the codec: the request
  // Its head is read: the filters, routing and forwarding begin.
  void start();
  // A piece of the request body. Returns false when the exchange answered (a body filter's
  // 413) and the codec should stop parsing.
  bool onRequestBody(const char* data, size_t len);
  // The request is read whole.
  void onRequestComplete();
  // The request broke off (a parse error in its body): closes the upstream connection that
  // has part of it. False when a response had begun (the codec must then close).
  bool abandonUpstream();
  // The client drained what was written: the response may go on.
  void onClientDrained();
  // The codec sent a file body by itself (ExchangeCodec::sendFile): `sent` bytes, all of it
  // when `ok`; else the response is cut, as when a file read fails.
  void onFileSent(uint64_t sent, bool ok);
  // The connection closes: the upstream request is given up, a paused filter's answer is
  // ignored, and an unfinished exchange is logged with `status` (499: the client left).
  void onConnectionClosed(int status);

  // An answer of the balancer's own: a JSON error. `close` closes the connection after it.
  void reply(int status, std::string_view message, bool close,
             std::string_view extra_headers = {});
  // reply() unless a response has begun (then the connection is closed), and the exchange
  // ends when the request is read whole.
  void fail(int status, std::string_view message, std::string_view extra_headers = {});

  bool active() const { return active_; }
  // Answered by the balancer: the rest of the request body is read and dropped.
  bool local() const { return local_; }
  bool requestComplete() const { return request_complete_; }
  bool responseStarted() const { return response_started_; }
  // A filter's LocalResponse is still being pulled (a file read on the thread pool): the
  // exchange ends when its body does, not when the request has been read.
  bool localBodyPending() const { return local_response_ != nullptr && !local_ended_; }
  bool upgrade() const { return upgrade_; }
  // Ends the exchange once the codec has dropped the rest of a locally answered request.
  void finishLocal() { active_ = false; }
  UpstreamRequest& upstream() { return upstream_; }
  const filters::FilterOutput& filterOutput() const { return ctx_.out; }
  std::string_view requestId() const;

  // UpstreamListener: the exchange's upstream connection
  void onUpstreamConnected(UpstreamConnection* conn) override;
  void onUpstreamFailed(UpstreamConnection* conn, UpstreamFailure failure) override;
  bool retriesOnStatus(int status) override;
  int onUpstreamHeaders(UpstreamConnection* conn) override;
  int onUpstreamBody(const char* data, size_t len) override;
  void onUpstreamReadDone(UpstreamConnection* conn) override;
  void onUpstreamComplete(UpstreamConnection* conn, bool reusable) override;
  void onUpstreamAborted(UpstreamConnection* conn) override;
  void onUpstreamUpgraded(UpstreamConnection* conn, const char* rest, size_t len) override;
  void onUpstreamDrained() override;
  void onTunnelFromUpstream(const char* data, size_t len) override;
  void onTunnelClosedByUpstream() override;

  // filters::ChainHost, for a filter that pauses (the Redis rate limit)
  filters::Resumer pauseExchange() override;
  void onFilterResumed(uint64_t exchange, filters::Verdict verdict) override;
  bool startBackground(std::string request_head, std::function<void()> done) override;

 private:
  // The end of the response-body filters: the codec.
  class ClientBody final : public filters::BodySink {
   public:
    explicit ClientBody(Exchange* exchange) : exchange_(exchange) {}
    void write(std::string_view bytes) override;

   private:
    Exchange* exchange_;
  };
  // Where a local response's body pieces arrive.
  class LocalBody final : public filters::LocalBodySink {
   public:
    explicit LocalBody(Exchange* exchange) : exchange_(exchange) {}
    void onBody(std::string_view piece) override;
    void onEnd() override;
    void onFailed() override;

   private:
    Exchange* exchange_;
  };

  // The stages of a request after its head: the listener's filters, routing, the route's
  // filters, forwarding. Each goes on to the next unless it answered or a filter paused.
  void routeRequest();
  void forwardRequest();
  // Runs `chain` from the filter at `from`: true when every filter went on; false when one
  // answered (the answer is written) or paused (onFilterResumed goes on).
  bool runFilters(const filters::FilterChain& chain, size_t from);
  void answerFromFilter(filters::Verdict& verdict, size_t filter_index);
  void buildUpstreamHead(std::string_view strip_prefix);
  void dispatch();
  void sendRequest();
  // No upstream answer will come: a filter may answer anyway (stale-if-error), else `error`.
  void failUpstream(const UpstreamError& error, bool timeout);
  // A response the balancer makes (a filter's), through the response filters below `below`.
  void startLocalResponse(std::shared_ptr<filters::LocalResponse> response, size_t below);
  void pullLocal();
  void flushLocal();  // writes the body pieces the pull loop queued
  // Hands a file body to the codec when it can send it and no filter needs its bytes.
  bool sendFileBody();
  void endLocalResponse();
  // The response is whole: the exchange is over.
  void complete();
  void log(int status);
  bool headOnly(int status) const;
  // The connection closed under the exchange (a read that finishes afterwards finds it so).
  bool gone() const { return !active_ || codec_->closed(); }

  ExchangeCodec* codec_;
  const ExchangeEnv* env_;
  ClientAddress client_;  // the peer, or whom its X-Forwarded-For names when it is trusted
  const Snapshot* snapshot_;
  WorkerMetrics* metrics_;
  uint64_t number_;
  bool head_request_;
  bool upgrade_;
  bool chunked_request_;
  bool background_;
  bool active_ = true;
  bool local_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool close_after_ = false;
  const filters::FilterChain* filters_ = nullptr;  // the route's, once routed
  const filters::FilterChain* paused_chain_ = nullptr;  // the chain a filter paused
  size_t paused_at_ = 0;                                // and that filter's index
  filters::FilterContext ctx_;  // the exchange's pass through its filters
  bool filters_running_ = false;
  std::optional<filters::Verdict> resumed_inside_;  // a paused filter answered before it returned
  UpstreamRequest upstream_;
  // Lets an answer that comes after the exchange ended (Redis) see that it did.
  std::shared_ptr<filters::ChainHost*> alive_;
  // A local response (a filter's, or one that replaced the upstream's) and its body's way.
  std::shared_ptr<filters::LocalResponse> local_response_;
  size_t local_below_ = 0;  // its response filters: those before the filter that made it
  LocalBody local_body_{this};
  bool pulling_ = false;     // asked for a piece, no answer yet
  bool in_pull_ = false;     // inside pullLocal(): a synchronous answer loops, not recurses
  bool pull_again_ = false;
  size_t local_unflushed_ = 0;  // body bytes queued by this pull loop, not yet flushed
  bool body_done_ = false;    // it answered onEnd (or onFailed)
  bool local_ended_ = false;  // its end was written
  bool replaced_ = false;    // the upstream's response is dropped for local_response_
};

}  // namespace balancer
