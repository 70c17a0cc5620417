#pragma once

#include <uv.h>

#include <memory>

#include "balancer/upstream/backend.h"
#include "balancer/upstream/upstream_listener.h"
#include "common/http/output_queue.h"
#include "common/http/parser.h"
#include "common/util/units.h"

namespace balancer {

class UpstreamPool;
class Worker;

// One keep-alive connection to a backend: connecting, idle in its pool, or busy with one
// exchange (or tunnelling it after an upgrade). It parses the response and hands each stage
// to its UpstreamListener; the exchange's UpstreamRequest writes the request through out().
class UpstreamConnection final : public http::ParserListener, public http::OutputListener {
 public:
  enum class State { kConnecting, kIdle, kBusy, kTunnel, kClosed };

  // Holds `backend` alive until the connection is freed, even if it leaves the upstream.
  UpstreamConnection(Worker* worker, UpstreamPool* pool, size_t backend_index,
                     std::shared_ptr<Backend> backend);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // Starts connecting. Returns 0, or a libuv error after closing itself.
  int connect(util::Millis timeout);
  // Binds the connection to an exchange; events go to `listener` from now on.
  // upgrade_request: the request asked to switch protocols (a 101 to any other is invalid).
  void attach(UpstreamListener* listener, bool head_request, bool upgrade_request);
  // Clears the link to the exchange (it is closing or done with the connection).
  void detach() { listener_ = nullptr; }
  // Closes the socket; the object frees itself in the close callback. Idempotent.
  void close();
  // Closes once what is queued for the backend has been written (end of a tunnel).
  void closeWhenFlushed();

  void startResponseTimer(util::Millis timeout);
  void enterIdle(util::Millis idle_timeout);
  void leaveIdle();
  void enterTunnel();
  void pauseReading();
  void resumeReading();

  State state() const { return state_; }
  bool connected() const { return state_ != State::kConnecting; }
  bool reused() const { return reused_; }
  bool responseStarted() const { return response_started_; }
  // The backend's index in its pool's current set (the pool renumbers on a set change).
  size_t backendIndex() const { return backend_index_; }
  void setBackendIndex(size_t index) { backend_index_ = index; }
  Backend* backend() const { return backend_.get(); }
  http::OutputQueue& out() { return out_; }
  const http::Parser& response() const { return parser_; }

  // http::ParserListener
  int onHeadersComplete() override;
  int onBody(const char* data, size_t len) override;
  int onMessageComplete() override;
  // http::OutputListener
  void onOutputDrained() override;
  void onOutputError(int status) override;

 private:
  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);

  void handleRead(const char* data, size_t len);
  void handleEof(int status);
  void fail(UpstreamFailure failure);
  void startReading();

  Worker* worker_;
  UpstreamPool* pool_;
  size_t backend_index_;
  std::shared_ptr<Backend> backend_;
  UpstreamListener* listener_ = nullptr;
  State state_ = State::kConnecting;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  http::Parser parser_;
  http::OutputQueue out_;
  int open_handles_ = 0;
  bool reading_ = false;
  bool reused_ = false;
  bool head_request_ = false;
  bool upgrade_request_ = false;
  bool response_started_ = false;
  // Once a response began, the timer watches read_timeout: the loop time of the last read,
  // so that a read only stores a number and the timer re-arms itself for what is left.
  uint64_t last_read_ms_ = 0;
  void onReadTimer();
  bool response_complete_ = false;
  bool retry_elsewhere_ = false;  // the exchange dropped this response's head (see fail)
  bool close_when_flushed_ = false;
};

}  // namespace balancer
