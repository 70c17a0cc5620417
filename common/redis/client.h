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
// order on the loop thread. The client reconnects by itself, with a backoff, after a refused
// or lost connection; a connection that stops answering (a hung server) is dropped after
// Options::command_timeout, so callers never wait longer than that.
//
// A command sent on a BLOCKing read (XREAD BLOCK) holds the connection until it answers:
// give such loops a Client of their own.
class Client {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    uint64_t command_timeout_ms = 2000;  // longer for a client that sends BLOCKing reads
    uint64_t backoff_min_ms = 100;
    uint64_t backoff_max_ms = 2000;
    std::string name;  // for logs
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
  // Runs after every (re)connection: the place to resume a stream read.
  void onConnected(std::function<void()> cb) { on_connected_ = std::move(cb); }

  void command(const std::vector<std::string>& argv, Callback cb);
  void command(std::initializer_list<std::string_view> argv, Callback cb);

  // Stops reconnecting, fails pending commands and closes the connection and timer.
  void close();

 private:
  enum class State { kDisconnected, kConnecting, kConnected, kClosed };
  struct Pending;

  void connect();
  void lost(const char* why);
  void drop(const char* why);
  void send(size_t argc, const char** argv, const size_t* lengths, Callback cb);
  void failLater(Callback cb);
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
  uv_timer_t* timer_;  // reconnects and watches progress; freed in its close callback
  uv_check_t* deferred_check_;  // runs failures outside command()
  std::vector<Callback> deferred_;
  uint64_t awaiting_ = 0;
  uint64_t last_progress_ms_ = 0;
  uint64_t connect_started_ms_ = 0;
  uint64_t backoff_ms_;
  uint64_t failures_ = 0;
  std::function<void()> on_connected_;
};

}  // namespace redis
