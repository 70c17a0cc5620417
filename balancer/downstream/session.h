#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "balancer/downstream/file_sender.h"
#include "balancer/exchange/exchange_slot.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/downstream/listener_runtime.h"
#include "balancer/upstream/policy.h"
#include "balancer/routing/router.h"
#include "balancer/upstream/upstream_request.h"
#include "balancer/upstream/upstream_connection.h"
#include "common/http/output_queue.h"
#include "common/http/parser.h"
#include "common/tls/connection.h"

namespace balancer {

class Snapshot;
class UpstreamPool;
class Worker;
class WorkerMetrics;

// One client connection and its HTTP/1.1 codec: it reads requests, hands each to an
// Exchange (one at a time: pipelined requests wait in the slot's `pending_input` until the exchange
// before them is done), and writes the responses back framed for HTTP/1.1 (Content-Length or
// chunked, keep-alive or close). After a 101 the connection becomes a tunnel that copies
// bytes both ways.
class Session final : public http::ParserListener,
                      public http::OutputListener,
                      public ExchangeCodec,
                      public FileSender::Listener {
 public:
  Session(Worker* worker, const Snapshot* snapshot, const ListenerRuntime* listener);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Accepts the pending connection on `server` and starts reading. Returns 0 or an error,
  // in which case the session has closed itself.
  int start(uv_stream_t* server);
  // Graceful shutdown: an idle session closes now, a busy one after its exchange; a request
  // already read and waiting behind the last one is answered first.
  void drain();
  // Closes at once; the object frees itself in the close callbacks. Idempotent. An exchange
  // in flight is logged with `status` unless its response had begun (499: the client left).
  void close(int status = 499);
  // Gives the exchange slot back when the session is idle (no exchange, no partial request,
  // nothing unwritten); called by ExchangeSlots from its timer, outside any call of the
  // exchange.
  void releaseSlotIfIdle();

  // http::ParserListener, for requests
  int onMessageBegin() override;
  int onHeadersComplete() override;
  int onBody(const char* data, size_t len) override;
  int onMessageComplete() override;
  // http::OutputListener, for the client socket
  void onOutputDrained() override;
  void onOutputError(int status) override;

  // ExchangeCodec: the current exchange's response, framed for HTTP/1.1
  void sendInterim(const http::Parser& response) override;
  void sendHead(const ResponseHead& head) override;
  void sendBody(std::string_view bytes, bool stable) override;
  void sendEnd() override;
  FileSendStart sendFile(const filters::FileRegion& region) override;
  void flush() override { flushOut(); }
  bool outputFull() override;
  void abort() override { close(); }
  void onExchangeDone(bool close) override;
  void onRequestBodyWanted() override { updateReading(); }
  void enterTunnel(UpstreamConnection* conn, const char* rest, size_t len) override;
  void onTunnelData(const char* data, size_t len) override;
  void onTunnelClosed() override { closeWhenFlushed(); }
  bool open() const override { return state_ == State::kOpen; }
  bool closed() const override { return state_ == State::kClosed; }

  // FileSender::Listener, for a file body sent with sendfile
  void onFileWaiting() override;
  void onFileSent(uint64_t sent, bool ok) override;

 private:
  enum class State : uint8_t { kOpen, kTunnel, kLingering, kClosed };

  // The TLS layer and the context it was made from, kept while it lives (apart from the
  // session: a plain TCP connection does not pay for it).
  struct Tls {
    Tls(std::shared_ptr<const tls::ServerContext> from, SSL* ssl)
        : context(std::move(from)), connection(ssl) {}
    std::shared_ptr<const tls::ServerContext> context;
    tls::Connection connection;
  };

  // HTTP/1.1's side of the current exchange: how its response is framed and whether the
  // connection is kept after it. Built fresh with each request.
  struct Framing {
    bool rechunk = false;      // the body goes out chunked (its length is not known)
    bool http10 = false;       // an HTTP/1.0 client: no chunks, no interim responses
    bool keep_alive = true;    // the client keeps the connection
    bool close_after = false;  // the connection closes after this response
  };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);
  static void onShutdown(uv_shutdown_t* req, int status);

  // Reads the PROXY protocol header a proxy_protocol listener gets first; what follows it goes
  // on to TLS or HTTP. A connection without a valid one is closed (no HTTP answer: nothing
  // says it speaks HTTP).
  void handleProxyHeader(const char* data, size_t len);
  // Hands bytes read from the socket on: to TLS, or to HTTP for plain TCP.
  void handleRead(const char* data, size_t len);
  // Decrypts what arrived on a TLS connection (handshaking first) and hands the plaintext on.
  void handleTlsInput(const char* data, size_t len);
  void handleInput(const char* data, size_t len);
  void processPending();
  void afterParse(const http::Parser::Result& result, const char* data, size_t len,
                  bool from_pending);
  void handleParseError();
  void updateReading();
  // `more`: a file's bytes follow at once (OutputQueue::flush).
  void flushOut(bool more = false);

  // Starts an exchange for the request whose head was read (or, with `bare`, for an error
  // answered before a head was whole: a parse error, a header timeout).
  Exchange& newExchange(bool bare);
  bool exchangeActive() const { return exchange_ && exchange_->active(); }
  // Answers a request that never became an exchange of its own.
  void replyBare(int status, std::string_view message);

  // The exchange slot (its buffers, record, environment), leased from the worker on first use.
  ExchangeSlot& slot() { return slot_ != nullptr ? *slot_ : leaseSlot(); }
  ExchangeSlot& leaseSlot();
  ExchangeBuffers& buffers() { return slot().buffers; }
  ExchangeRecord& record() { return slot().record; }
  // Asks the worker to take the slot back soon if the session is still idle then
  // (releaseSlotIfIdle); the next request may come first and use it.
  void releaseSlotLater();
  // Bytes read past the current request (pipelined), held in the slot.
  std::string& pendingInput() { return slot().pending_input; }
  bool hasPendingInput() const { return slot_ != nullptr && !slot_->pending_input.empty(); }
  void closeWhenFlushed();
  // Whether the connection may close at once, without the half-close and wait for the
  // client's end: the client said it sends nothing more and nothing of it is left unread.
  bool clientDoneSending() const;
  void startTimer(util::Millis timeout);
  // The index of the session's listener in its snapshot's config.
  size_t listenerIndex() const;
  void stopTimer();

  // Members from the widest to the narrowest, so that no padding is spent: 10,000 idle
  // connections each hold one of these (perf/compare measures the memory per connection).
  Worker* worker_;
  const Snapshot* snapshot_;
  const ListenerRuntime* listener_;
  WorkerMetrics* metrics_;  // the block sized for snapshot_
  std::unique_ptr<Tls> tls_;  // the TLS layer; null for plain TCP
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uint64_t timer_deadline_ms_ = 0;    // loop time timer_ is for; 0: stopped (see startTimer)
  uint64_t tunnel_expires_ms_ = 0;    // loop time the tunnel's token expires; 0: none
  http::Parser parser_;
  http::OutputQueue out_;
  FileSender* file_sender_ = nullptr;  // a file body going out with sendfile; frees itself
  // Held only while the session has a request (an idle keep-alive connection holds no slot):
  // the exchange, its environment, record and buffers, and pipelined input.
  ExchangeSlot* slot_ = nullptr;
  Exchange* exchange_ = nullptr;  // slot_'s exchange, once one began in it
  uint64_t exchanges_ = 0;
  uint64_t read_unrecorded_ = 0;  // request bytes read while no slot was held (its record's)
  // The PROXY header's first bytes, when it comes in pieces (rarely: allocated only then).
  std::unique_ptr<std::string> proxy_header_;
  // The worker's list of its sessions (for graceful shutdown), linked without allocating.
  Session* prev_ = nullptr;
  Session* next_ = nullptr;
  State state_ = State::kOpen;
  uint8_t open_handles_ = 0;  // tcp_ and timer_ until their close callbacks
  Framing framing_;
  bool client_write_timer_ = false;  // timer_ is watching timeouts.client_write
  bool reading_ = false;
  bool parser_paused_ = false;
  bool in_message_ = false;
  bool draining_ = false;
  bool close_when_flushed_ = false;
  bool release_queued_ = false;         // ExchangeSlots will call releaseSlotIfIdle()
  bool awaiting_proxy_header_ = false;  // a proxy_protocol listener: its header is not read yet
  uint8_t client_ip_length_ = 0;  // measured once: the address is used in every request
  char client_ip_[46] = {0};      // INET6_ADDRSTRLEN
  std::string_view clientIp() const { return {client_ip_, client_ip_length_}; }
  friend class Worker;
};

}  // namespace balancer
