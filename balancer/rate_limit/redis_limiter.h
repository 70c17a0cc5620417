#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "balancer/rate_limit/token_bucket.h"
#include "common/redis/client.h"

namespace balancer::rate_limit {

// The buckets of `scope: global` limits, kept in Redis so that every balancer shares them.
// One instance per worker loop; it lives on that loop and is not thread-safe.
//
// Each check is one EVALSHA of a Lua script (see kBucketScript in redis_limiter.cc) that
// refills, takes and stores the bucket atomically on Redis's own clock, so balancers with
// skewed clocks agree. A check never waits long: when Redis is not connected the callback
// runs at once with `available == false`, and when Redis does not answer within
// `timeout_ms` it runs then, with the same outcome. The caller decides what that means
// (fail open by default). Meanwhile its redis::Client reconnects in the background with
// exponential backoff, and drops a connection that stops answering altogether.
//
// The process must ignore SIGPIPE (the balancer does): hiredis writes with write(2).
class RedisLimiter {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // an IP address, or a name looked up off the loop
    int port = 6379;
    uint64_t timeout_ms = 50;           // a check's answer, from check() to its callback
    uint64_t connect_timeout_ms = 1000;
    uint64_t stall_timeout_ms = 1000;   // no reply at all for this long: reconnect
    uint64_t backoff_min_ms = 50;       // reconnect delays double from min to max
    uint64_t backoff_max_ms = 2000;
    size_t max_pending = 10000;         // checks awaiting Redis; beyond: unavailable at once
    std::string key_prefix = "rl:";     // Redis key = prefix + the caller's key
    std::string username;               // AUTH as this ACL user (empty: default)
    std::string password;               // empty: no AUTH
  };

  struct Outcome {
    bool available = false;  // false: Redis did not answer; `decision` is meaningless
    Decision decision;
  };
  using Callback = std::function<void(const Outcome&)>;

  // Starts connecting at once.
  RedisLimiter(uv_loop_t* loop, Options options);
  // Calls close() if it was not called.
  ~RedisLimiter();
  RedisLimiter(const RedisLimiter&) = delete;
  RedisLimiter& operator=(const RedisLimiter&) = delete;

  // Takes one token from the bucket `key` (rate in tokens per second, above 0; burst its
  // capacity, at least 1). `key` may hold any bytes. `cb` runs exactly once on this loop:
  // inside this call when the outcome is already known (not connected, too many pending,
  // closed), else when Redis answers or at the timeout.
  void check(std::string_view key, double rate, double burst, Callback cb);

  // Answers every pending check as unavailable, disconnects and closes the handles; later
  // checks answer unavailable at once. The object may be destroyed right after; the loop
  // needs one more turn to free the handles, after which uv_loop_close() returns 0. A check
  // callback may call close(), but must not destroy the limiter.
  void close();

  bool connected() const { return client_.connected(); }
  // Checks answered `available == false` since construction (for metrics).
  uint64_t errors() const { return errors_; }
  // Connection attempts that failed or connections that were lost.
  uint64_t connectionFailures() const { return client_.connectionFailures(); }

 private:
  struct Pending {
    uint64_t id;
    uint64_t deadline_ms;
    Callback cb;            // empty once answered
    std::string redis_key;  // kept, with rate and burst, to resend it after a NOSCRIPT
    double rate;
    double burst;
  };

  void loadScript();
  void onScriptLoaded(const redisReply* reply);
  void send(const Pending& pending);
  void onReply(uint64_t id, const redisReply* reply);
  void answer(Pending& pending, const Outcome& outcome);
  static void onTimer(uv_timer_t* timer);
  void expire();
  void arm();

  uv_loop_t* loop_;
  Options options_;
  redis::Client client_;  // the connection, its reconnects and its drop when stalled
  uv_timer_t* timer_;     // on the heap, so close() need not wait for its close callback
  bool closed_ = false;

  std::deque<Pending> pending_;  // ordered by id, and so by deadline
  uint64_t next_id_ = 1;
  std::string script_sha_;  // known once SCRIPT LOAD answered; until then EVAL
  bool loading_script_ = false;

  uint64_t errors_ = 0;
};

}  // namespace balancer::rate_limit
