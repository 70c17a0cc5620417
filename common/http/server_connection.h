#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "common/http/output_queue.h"
#include "common/http/parser.h"
#include "common/http/server.h"

namespace http {

// One client connection of an http::Server: reads a request, hands it to the handler, writes
// the answer, then reads the next. Owned by itself (self_) until its handles are closed, and
// seen by responders through weak pointers. An upgrade request's handler may take the socket
// over (upgrade()); the connection then lets go of it and ends.
class ServerConnection final : public ParserListener,
                               public OutputListener,
                               public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(Server* server, uv_loop_t* loop);
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Accepts from the listener and starts reading; the connection then keeps itself alive.
  int start(uv_stream_t* listener);
  void send(uint64_t exchange, Response response);
  // Writes `response`, then hands the socket to `takeover` once the kernel has it all.
  void upgrade(uint64_t exchange, Response response, Takeover takeover);
  // Graceful: close now when idle, else after the current response.
  void drain();
  void close();

  int onMessageBegin() override;
  int onHeadersComplete() override;
  int onBody(const char* data, size_t len) override;
  int onMessageComplete() override;
  void onOutputDrained() override;
  void onOutputError(int status) override;

 private:
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);
  static void onTcpClose(uv_handle_t* handle);

  void parse(const char* data, size_t len, bool from_pending);
  void dispatch();
  void replyError(int status, const char* message);
  void write(const Response& response, bool close_after);
  void closeWhenFlushed();
  void updateReading();
  void startTimer(util::Millis timeout);
  void handOver();
  void handleClosed();

  Server* server_;
  std::shared_ptr<ServerConnection> self_;
  uv_tcp_t* tcp_;  // on the heap, so that an upgrade can hand it over; freed when closed
  uv_timer_t timer_;
  Parser parser_;
  OutputQueue out_;
  Request request_;
  std::string pending_input_;
  std::string head_;
  Takeover takeover_;  // set while an upgrade's response is still being written
  char client_ip_[46] = {0};
  uint64_t exchange_ = 0;  // counts requests; a responder answers only its own
  int open_handles_ = 0;
  bool reading_ = false;
  bool in_message_ = false;
  bool waiting_handler_ = false;
  bool keep_alive_ = true;
  bool draining_ = false;
  bool upgrade_request_ = false;  // the current request asked for an upgrade
  bool upgrading_ = false;        // its 101 is queued; the socket goes to takeover_ when written
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace http
