#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>

#include "balancer/access_log/exchange_record.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/downstream/listener_runtime.h"
#include "balancer/upstream/policy.h"
#include "balancer/routing/router.h"
#include "balancer/upstream/upstream_request.h"
#include "balancer/upstream/upstream_connection.h"
#include "balancer/worker/filter_services.h"
#include "common/http/output_queue.h"
#include "common/http/parser.h"

namespace tls {
class Connection;
}

namespace balancer {

class Snapshot;
class UpstreamPool;
class Worker;
class WorkerMetrics;

// One client connection's life: it reads requests, proxies each as an exchange to an
// upstream connection, and writes the responses back in order. Pipelined requests wait in
// `pending_input_` until the exchange before them is done. After a 101 the session becomes a
// tunnel that copies bytes both ways.
class Session final : public http::ParserListener,
                      public http::OutputListener,
                      public filters::ChainHost,
                      public UpstreamListener {
 public:
  Session(Worker* worker, const Snapshot* snapshot, const ListenerRuntime* listener);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Accepts the pending connection on `server` and starts reading. Returns 0 or an error,
  // in which case the session has closed itself.
  int start(uv_stream_t* server);
  // Graceful shutdown: an idle session closes now, a busy one after its exchange.
  void drain();
  // Closes at once; the object frees itself in the close callbacks. Idempotent.
  void close();

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

  // http::ParserListener, for requests
  int onMessageBegin() override;
  int onHeadersComplete() override;
  int onBody(const char* data, size_t len) override;
  int onMessageComplete() override;
  // http::OutputListener, for the client socket
  void onOutputDrained() override;
  void onOutputError(int status) override;
  // filters::ChainHost, for a filter that pauses (the Redis rate limit)
  filters::Resumer pauseExchange() override;
  void onFilterResumed(uint64_t exchange, filters::Verdict verdict) override;

 private:
  enum class State { kOpen, kTunnel, kLingering, kClosed };

  // The end of the response-body filters: the client's output queue.
  class ClientBody final : public filters::BodySink {
   public:
    explicit ClientBody(Session* session) : session_(session) {}
    void write(std::string_view bytes) override;

   private:
    Session* session_;
  };

  // One request and its response.
  struct Exchange {
    bool active = false;
    bool local = false;  // answered by the balancer itself; the request body is dropped
    bool request_complete = false;
    bool response_started = false;
    bool chunked_request = false;
    bool rechunk_response = false;
    bool head_request = false;
    bool upgrade = false;
    bool client_keep_alive = true;
    bool client_http10 = false;
    bool close_after = false;
    uint64_t number = 0;  // counts the session's exchanges: a late filter answer names one
    const filters::FilterChain* filters = nullptr;  // the route's, once routed
    const filters::FilterChain* paused_chain = nullptr;  // the chain a filter paused
    size_t paused_at = 0;                                // and that filter's index
    UpstreamRequest upstream;  // once routed
  };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);
  static void onShutdown(uv_shutdown_t* req, int status);

  // Decrypts what arrived on a TLS connection (handshaking first) and hands the plaintext on.
  void handleTlsInput(const char* data, size_t len);
  void handleInput(const char* data, size_t len);
  void processPending();
  void afterParse(const http::Parser::Result& result, const char* data, size_t len,
                  bool from_pending);
  void handleParseError();
  void updateReading();
  void flushOut();

  // The stages of a request after its head: the listener's filters, routing, the route's
  // filters, forwarding. Each goes on to the next unless it answered or a filter paused.
  void startFilters();
  void routeRequest();
  void forwardRequest();
  // Runs `chain` from the filter at `from`: true when every filter went on; false when one
  // answered (the answer is written) or paused (onFilterResumed goes on).
  bool runFilters(const filters::FilterChain& chain, size_t from);
  void answerFromFilter(filters::Verdict& verdict);
  void buildUpstreamHead(std::string_view strip_prefix);
  void dispatch();
  void sendRequest();
  // The request will not be completed (an error in its body): closes the upstream connection
  // that has part of it. Returns false when a response had begun, the session then closed.
  bool abandonUpstream();
  void finishExchange();
  void reply(int status, std::string_view message, bool close_after,
             std::string_view extra_headers = {});
  void failExchange(int status, std::string_view message, std::string_view extra_headers = {});

  // The exchange's buffers, leased from the worker on first use.
  ExchangeBuffers& buffers();
  // Gives the buffers back once the session is idle (no exchange, no partial request).
  void releaseBuffersIfIdle();
  const char* requestId() { return buffers().request_id.c_str(); }

  void enterTunnel(UpstreamConnection* conn, const char* rest, size_t len);
  void closeWhenFlushed();
  // Whether the connection may close at once, without the half-close and wait for the
  // client's end: the client said it sends nothing more and nothing of it is left unread.
  bool clientDoneSending() const;
  void startTimer(util::Millis timeout);
  // The index of the session's listener in its snapshot's config.
  size_t listenerIndex() const;
  void stopTimer();
  // The exchange is over (or its response decided): counts it and writes its access log line.
  void logExchange(int status);

  Worker* worker_;
  const Snapshot* snapshot_;
  const ListenerRuntime* listener_;
  WorkerMetrics* metrics_;  // the block sized for snapshot_
  WorkerFilterServices filter_services_;
  std::shared_ptr<const tls::ServerContext> tls_context_;  // kept while tls_ lives
  std::unique_ptr<tls::Connection> tls_;                   // the TLS layer; null for plain TCP
  State state_ = State::kOpen;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  bool client_write_timer_ = false;  // timer_ is watching timeouts.client_write
  uint64_t timer_deadline_ms_ = 0;    // loop time timer_ is for; 0: stopped (see startTimer)
  uint64_t tunnel_expires_ms_ = 0;    // loop time the tunnel's token expires; 0: none
  int open_handles_ = 0;
  bool reading_ = false;
  bool parser_paused_ = false;
  bool in_message_ = false;
  bool draining_ = false;
  bool close_when_flushed_ = false;
  http::Parser parser_;
  http::OutputQueue out_;
  std::string pending_input_;  // bytes read past the current request
  ExchangeBuffers* buffers_ = nullptr;
  Exchange exchange_;
  uint64_t exchanges_ = 0;
  filters::FilterContext filter_ctx_;  // the exchange's pass through its filters
  bool filters_running_ = false;
  std::optional<filters::Verdict> resumed_inside_;  // a paused filter answered before it returned
  char client_ip_[46] = {0};  // INET6_ADDRSTRLEN
  uint8_t client_ip_length_ = 0;  // measured once: the address is used in every request
  std::string_view clientIp() const { return {client_ip_, client_ip_length_}; }
  ExchangeRecord record_;     // for the metrics and the access log
  // The worker's list of its sessions (for graceful shutdown), linked without allocating.
  // Lets an answer that comes after the session closed (Redis) see that it did.
  std::shared_ptr<filters::ChainHost*> alive_;
  Session* prev_ = nullptr;
  Session* next_ = nullptr;
  friend class Worker;
};

}  // namespace balancer
