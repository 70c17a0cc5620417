#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace redis {

// One connection to Redis driven by a libuv loop: commands are pipelined and answered in
// order on the loop thread. A host name is looked up on the thread pool before each
// connection (hiredis would block the loop on it), its first IPv4 address preferred. The client reconnects by itself, with a backoff, after a refused
// or lost connection; a connection that stops answering (a hung server) is dropped after
// Options::command_timeout, so callers never wait longer than that. A caller that needs a
// shorter answer time keeps its own deadline and ignores a late reply. Connected or
// reconnecting, the client keeps its loop running until close().
//
// A command sent on a BLOCKing read (XREAD BLOCK) holds the connection until it answers:
// give such loops a Client of their own.
class Client {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    uint64_t command_timeout_ms = 2000;  // longer for a client that sends BLOCKing reads
    uint64_t connect_timeout_ms = 0;     // 0: command_timeout_ms
    // Reconnect delays double from min to max.
    uint64_t backoff_min_ms = 100;
    uint64_t backoff_max_ms = 2000;
    // Each delay drawn from [d/2, d] rather than d, so that many clients (workers, processes)
    // cut off together do not reconnect in step.
    bool backoff_jitter = false;
    std::string name;  // for logs
    // With a password, AUTH goes first on every connection (an ACL user's, or requirepass's
    // `default` user when username is empty).
    std::string username;
    std::string password;
  };
  // The reply, or nullptr when the command could not be sent or its connection was lost
  // before it answered. Called exactly once, on the loop thread, never from inside command()
  // except after close(), when it runs at once with nullptr.
  using Callback = std::function<void(const redisReply* reply)>;

  Client(uv_loop_t* loop, Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return state_ == State::kConnected; }
  // Runs after every (re)connection, so its commands go first on the new connection: the
  // place to resume a stream read or load a script.
  void onConnected(std::function<void()> cb) { on_connected_ = std::move(cb); }
  // Connection attempts that failed and connections that were lost, since construction.
  uint64_t connectionFailures() const { return connection_failures_; }

  void command(const std::vector<std::string>& argv, Callback cb);
  void command(std::initializer_list<std::string_view> argv, Callback cb);
  // The same without building a vector: `argc` arguments of `lengths[i]` bytes at `argv[i]`
  // (`lengths` null: NUL-terminated strings). Copied before returning.
  void command(const char* const* argv, const size_t* lengths, size_t argc, Callback cb);

  // Stops reconnecting, fails pending commands and closes the connection and timer.
  void close();

 private:
  enum class State { kDisconnected, kConnecting, kConnected, kClosed };
  struct Pending;

  void connect();
  void connectTo(const char* ip);
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  void authenticate();
  void connectionUsable();
  void lost(const char* why);
  void drop(const char* why);
  void failLater(Callback cb);
  void handleTimer();
  void arm();
  uint64_t nextBackoff();
  static void onConnect(const redisAsyncContext* ctx, int status);
  static void onDisconnect(const redisAsyncContext* ctx, int status);
  static void onReply(redisAsyncContext* ctx, void* reply, void* privdata);
  static void onTimer(uv_timer_t* timer);
  static void onDeferred(uv_check_t* check);

  uv_loop_t* loop_;
  Options options_;
  State state_ = State::kDisconnected;
  redisAsyncContext* ctx_ = nullptr;
  uv_getaddrinfo_t* resolving_ = nullptr;  // a host name being looked up; freed by its callback
  // The next reconnect, connect timeout or progress deadline; stopped when none is due.
  // Freed in its close callback.
  uv_timer_t* timer_;
  uv_check_t* deferred_check_;  // runs failures outside command()
  std::vector<Callback> deferred_;
  uint64_t awaiting_ = 0;
  uint64_t last_progress_ms_ = 0;
  uint64_t connect_started_ms_ = 0;
  uint64_t reconnect_at_ms_ = 0;
  uint64_t backoff_ms_;
  uint64_t random_state_;  // for the jitter
  uint64_t failures_ = 0;  // since the last connection, to log an outage once
  uint64_t connection_failures_ = 0;
  std::function<void()> on_connected_;
};

}  // namespace redis
