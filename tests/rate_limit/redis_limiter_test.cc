// Integration test of RedisLimiter against a real redis-server that the test starts on a free
// loopback port, stops, pauses and restarts.
#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "balancer/rate_limit/redis_limiter.h"

using balancer::rate_limit::RedisLimiter;

namespace {

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A redis-server of the test's own, with no persistence, in a temporary directory.
class RedisServer {
 public:
  // `extra`: more redis-server arguments (a password, an ACL user).
  explicit RedisServer(std::vector<std::string> extra = {}) : port_(freePort()), extra_(extra) {
    char dir[] = "/tmp/rate_limit_redis_XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
    start();
  }
  ~RedisServer() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  int port() const { return port_; }

  void start() {
    std::string port = std::to_string(port_);
    std::string log = dir_ + "/redis.log";
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {"redis-server", "--port",     port,       "--bind",
                                       "127.0.0.1",    "--save",     "",         "--appendonly",
                                       "no",           "--dir",      dir_,       "--logfile",
                                       log};
      args.insert(args.end(), extra_.begin(), extra_.end());
      std::vector<char*> argv;
      for (std::string& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    REQUIRE(pid_ > 0);
    // Ready when it answers PING (or refuses it for want of a password).
    for (int i = 0; i < 500; ++i) {
      std::string pong = command("PING");
      if (pong == "PONG" || pong.starts_with("NOAUTH")) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("redis-server did not start on port " << port_);
  }

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void pause() { kill(pid_, SIGSTOP); }
  void resume() { kill(pid_, SIGCONT); }

  // One command on a blocking connection; its reply as text, or "" on failure.
  std::string command(const char* text) {
    timeval timeout{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    std::string out;
    if (c != nullptr && c->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(c, text));
      if (reply != nullptr) {
        if (reply->str != nullptr) {
          out.assign(reply->str, reply->len);
        } else if (reply->type == REDIS_REPLY_INTEGER) {
          out = std::to_string(reply->integer);
        }
        freeReplyObject(reply);
      }
    }
    if (c != nullptr) {
      redisFree(c);
    }
    return out;
  }

 private:
  int port_;
  std::vector<std::string> extra_;
  std::string dir_;
  pid_t pid_ = -1;
};

RedisLimiter::Options optionsFor(int port) {
  RedisLimiter::Options options;
  options.port = port;
  options.timeout_ms = 50;
  options.backoff_max_ms = 200;  // reconnects quickly, for the restart test
  return options;
}

// Turns the loop until `done` or `limit_ms`. Returns whether `done` became true.
bool runUntil(uv_loop_t* loop, const std::function<bool()>& done, uint64_t limit_ms = 5000) {
  uv_update_time(loop);
  uint64_t deadline = uv_now(loop) + limit_ms;
  while (!done() && uv_now(loop) < deadline) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (!done()) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    uv_update_time(loop);
  }
  return done();
}

// Closes the limiter and lets the loop free every handle. Returns uv_loop_close()'s result:
// 0 when no handle is left.
int closeLoop(uv_loop_t* loop, RedisLimiter& limiter) {
  limiter.close();
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

// No Catch2 assertion in here: Catch2 v2 is not thread-safe, and workers call it.
struct Tally {
  int allowed = 0;
  int denied = 0;
  int unavailable = 0;
  int bad_denials = 0;  // without a retry_after, or with tokens remaining
  int total() const { return allowed + denied + unavailable; }
  void add(const Tally& t) {
    allowed += t.allowed;
    denied += t.denied;
    unavailable += t.unavailable;
    bad_denials += t.bad_denials;
  }
};

// Sends `n` checks at once (pipelined on the connection) and waits for every answer (a
// check never answered counts as missing from the total).
Tally burst(uv_loop_t* loop, RedisLimiter& limiter, const std::string& key, int n, double rate,
            double burst_size) {
  Tally tally;
  for (int i = 0; i < n; ++i) {
    limiter.check(key, rate, burst_size, [&tally](const RedisLimiter::Outcome& o) {
      if (!o.available) {
        ++tally.unavailable;
      } else if (o.decision.allowed) {
        ++tally.allowed;
      } else {
        ++tally.denied;
        if (o.decision.retry_after_ms <= 0 || o.decision.remaining != 0) {
          ++tally.bad_denials;
        }
      }
    });
  }
  runUntil(loop, [&] { return tally.total() == n; });
  return tally;
}

struct Ignore {
  // hiredis writes with write(2): a write to a Redis that just went away must not kill us.
  Ignore() { signal(SIGPIPE, SIG_IGN); }
} ignore_sigpipe;

}  // namespace

TEST_CASE("a Redis with a password or an ACL user: AUTH first, a wrong one is unavailable") {
  RedisServer redis({"--requirepass", "s3cret", "--user", "limiter", "on", ">l1m", "~rl:*",
                     "+@all"});
  uv_loop_t loop;
  uv_loop_init(&loop);
  bool stayed_connected = false;
  auto outcomeWith = [&](const char* user, const char* password) {
    RedisLimiter::Options options = optionsFor(redis.port());
    options.username = user;
    options.password = password;
    options.backoff_min_ms = options.backoff_max_ms = 5000;  // no reconnect while it is looked at
    RedisLimiter limiter(&loop, options);
    REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
    RedisLimiter::Outcome outcome;
    bool answered = false;
    limiter.check("route:auth", 1, 5, [&](const RedisLimiter::Outcome& o) {
      outcome = o;
      answered = true;
    });
    REQUIRE(runUntil(&loop, [&] { return answered; }));
    runUntil(&loop, [] { return false; }, 100);
    stayed_connected = limiter.connected();
    limiter.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    return outcome;
  };
  RedisLimiter::Outcome ok = outcomeWith("", "s3cret");  // requirepass: the default user
  CHECK(ok.available);
  CHECK(ok.decision.allowed);
  CHECK(outcomeWith("limiter", "l1m").available);  // an ACL user kept to the rl: keys
  CHECK(stayed_connected);
  CHECK_FALSE(outcomeWith("", "wrong").available);
  CHECK_FALSE(stayed_connected);  // refused: dropped, and reconnected later with the backoff
  CHECK_FALSE(outcomeWith("", "").available);  // no AUTH at all: NOAUTH
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a host name is looked up off the loop; one that does not resolve is unavailable") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    RedisLimiter::Options options = optionsFor(redis.port());
    options.host = "localhost";  // may list ::1 first; the server listens on 127.0.0.1
    RedisLimiter limiter(&loop, options);
    REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
    CHECK(burst(&loop, limiter, "route:named", 3, 0.01, 20).allowed == 3);
    limiter.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  {
    RedisLimiter::Options options = optionsFor(redis.port());
    options.host = "no-such-host.invalid";  // RFC 6761: never resolves
    RedisLimiter limiter(&loop, options);
    CHECK_FALSE(runUntil(&loop, [&] { return limiter.connected(); }, 300));
    CHECK(burst(&loop, limiter, "route:unnamed", 1, 0.01, 20).unavailable == 1);
    limiter.close();  // while a lookup may be running: its callback finds the client gone
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a burst beyond the limit gets exactly the expected denials") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter limiter(&loop, optionsFor(redis.port()));
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));

  // 1 token per 100 s: nothing refills while the test runs.
  Tally t = burst(&loop, limiter, "route:10.0.0.1", 35, 0.01, 20);
  CHECK(t.allowed == 20);
  CHECK(t.denied == 15);
  CHECK(t.unavailable == 0);
  CHECK(t.bad_denials == 0);

  // The script's numbers are take()'s: one token per 100 s, 20 missing.
  RedisLimiter::Outcome last;
  bool answered = false;
  limiter.check("route:10.0.0.1", 0.01, 20, [&](const RedisLimiter::Outcome& o) {
    last = o;
    answered = true;
  });
  REQUIRE(runUntil(&loop, [&] { return answered; }));
  CHECK(last.available);
  CHECK_FALSE(last.decision.allowed);
  CHECK(last.decision.remaining == 0);
  CHECK(last.decision.retry_after_ms > 99'000);
  CHECK(last.decision.retry_after_ms <= 100'000);
  CHECK(last.decision.reset_ms > 1'999'000);
  CHECK(last.decision.reset_ms <= 2'000'000);

  // The key lives in Redis, with the prefix, and expires when the bucket would be full.
  CHECK(redis.command("EXISTS rl:route:10.0.0.1") == "1");
  long ttl = std::stol(redis.command("PTTL rl:route:10.0.0.1"));
  CHECK(ttl > 1'900'000);
  CHECK(ttl <= 2'000'000);

  // Another key is another bucket.
  Tally other = burst(&loop, limiter, "route:10.0.0.2", 3, 0.01, 20);
  CHECK(other.allowed == 3);

  // A quick rate refills: 1000/s gives a token back every millisecond.
  Tally fast = burst(&loop, limiter, "route:fast", 5, 1000, 5);
  CHECK(fast.allowed == 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(burst(&loop, limiter, "route:fast", 5, 1000, 5).allowed == 5);

  CHECK(limiter.errors() == 0);
  CHECK(closeLoop(&loop, limiter) == 0);
}

TEST_CASE("the script still runs after Redis forgets it (NOSCRIPT falls back to EVAL)") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter limiter(&loop, optionsFor(redis.port()));
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
  CHECK(burst(&loop, limiter, "k", 2, 0.01, 3).allowed == 2);
  REQUIRE(redis.command("SCRIPT FLUSH") == "OK");
  Tally t = burst(&loop, limiter, "k", 3, 0.01, 3);
  CHECK(t.allowed == 1);
  CHECK(t.denied == 2);
  CHECK(t.unavailable == 0);
  // And EVALSHA works again once the script is reloaded.
  CHECK(burst(&loop, limiter, "k2", 1, 0.01, 3).allowed == 1);
  CHECK(closeLoop(&loop, limiter) == 0);
}

TEST_CASE("two limiters on two loops share one limit through Redis") {
  RedisServer redis;
  constexpr int kEach = 150;
  constexpr int kBurst = 100;
  Tally tallies[2];
  bool connected[2] = {false, false};
  int closed[2] = {-1, -1};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      uv_loop_t loop;
      uv_loop_init(&loop);
      RedisLimiter limiter(&loop, optionsFor(redis.port()));
      connected[w] = runUntil(&loop, [&] { return limiter.connected(); });
      ++ready;  // both start together, so that neither takes the whole burst alone
      runUntil(&loop, [&] { return ready.load() == 2; });
      // In rounds of 10, so that the two workers' checks interleave in Redis.
      for (int round = 0; round < kEach / 10; ++round) {
        tallies[w].add(burst(&loop, limiter, "route:shared", 10, 0.01, kBurst));
      }
      closed[w] = closeLoop(&loop, limiter);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(connected[0]);
  CHECK(connected[1]);
  CHECK(closed[0] == 0);
  CHECK(closed[1] == 0);
  Tally all = tallies[0];
  all.add(tallies[1]);
  CHECK(all.unavailable == 0);
  CHECK(all.allowed == kBurst);
  CHECK(all.denied == 2 * kEach - kBurst);
  CHECK(all.bad_denials == 0);
  // Both workers got some of the tokens: the limit really was shared, not raced past.
  CHECK(tallies[0].allowed > 0);
  CHECK(tallies[1].allowed > 0);
}

TEST_CASE("Redis gone: checks answer unavailable at once, then work again after a restart") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter::Options options = optionsFor(redis.port());
  // The stall timeout far away: what answers the checks below is their own timeout, not a
  // dropped connection.
  options.stall_timeout_ms = 60'000;
  RedisLimiter limiter(&loop, options);
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
  CHECK(burst(&loop, limiter, "k", 1, 0.01, 10).allowed == 1);

  // A Redis that does not answer: each check ends at its 50 ms timeout, with the connection
  // kept. A busy machine makes it later, never sooner; the upper bound is burst()'s 5 s.
  redis.pause();
  uint64_t failures_before = limiter.connectionFailures();
  auto start = std::chrono::steady_clock::now();
  Tally slow = burst(&loop, limiter, "k", 5, 0.01, 10);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(slow.unavailable == 5);
  CHECK(slow.total() == 5);
  CHECK(waited >= std::chrono::milliseconds(45));
  CHECK(limiter.connected());
  CHECK(limiter.connectionFailures() == failures_before);
  redis.resume();

  // A stopped Redis: the closed connection is noticed, and checks answer at once.
  redis.stop();
  REQUIRE(runUntil(&loop, [&] { return !limiter.connected(); }));
  uint64_t errors_before = limiter.errors();
  for (int i = 0; i < 20; ++i) {
    bool answered = false;
    bool available = true;
    limiter.check("k", 0.01, 10, [&](const RedisLimiter::Outcome& o) {
      answered = true;
      available = o.available;
    });
    // At once: inside check() itself, without a turn of the loop (no timeout waited for).
    CHECK(answered);
    CHECK_FALSE(available);
    runUntil(&loop, [] { return false; }, 10);  // reconnect attempts keep failing meanwhile
  }
  CHECK(limiter.errors() == errors_before + 20);
  CHECK(limiter.connectionFailures() >= 2);

  // Back on the same port: the limiter reconnects by itself.
  redis.start();
  bool works = runUntil(&loop, [&] {
    bool ok = false;
    limiter.check("k", 0.01, 10, [&](const RedisLimiter::Outcome& o) { ok = o.available; });
    runUntil(&loop, [&] { return ok; }, 20);
    return ok;
  }, 5000);
  CHECK(works);
  CHECK(closeLoop(&loop, limiter) == 0);
}

TEST_CASE("a Redis that stops answering is dropped, and reconnected when it answers again") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter::Options options = optionsFor(redis.port());
  options.stall_timeout_ms = 300;
  RedisLimiter limiter(&loop, options);
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));

  // Paused, the server still accepts TCP connections (the kernel does) but answers nothing.
  redis.pause();
  Tally paused;
  for (int i = 0; i < 40; ++i) {
    paused.add(burst(&loop, limiter, "k", 1, 0.01, 10));
    runUntil(&loop, [] { return false; }, 20);
  }
  CHECK(paused.unavailable == 40);
  CHECK(limiter.connectionFailures() >= 1);  // the stalled connection was dropped

  redis.resume();
  bool works = runUntil(&loop, [&] {
    return burst(&loop, limiter, "k", 1, 0.01, 10).unavailable == 0;
  }, 5000);
  CHECK(works);
  CHECK(closeLoop(&loop, limiter) == 0);
}

TEST_CASE("with no Redis at all, checks answer unavailable and close() leaves nothing") {
  int port = freePort();  // nothing listens there
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter limiter(&loop, optionsFor(port));
  // Waits for the event (two failed attempts: it keeps trying), not for a fixed time.
  CHECK(runUntil(&loop, [&] { return limiter.connectionFailures() >= 2; }));
  CHECK_FALSE(limiter.connected());
  bool answered = false;
  limiter.check("k", 1, 1, [&](const RedisLimiter::Outcome& o) {
    answered = true;
    CHECK_FALSE(o.available);
  });
  CHECK(answered);  // at once, inside check()
  CHECK(closeLoop(&loop, limiter) == 0);
}

TEST_CASE("close() answers the checks still waiting for Redis") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter limiter(&loop, optionsFor(redis.port()));
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
  int unavailable = 0;
  for (int i = 0; i < 5; ++i) {
    limiter.check("k", 1, 10, [&](const RedisLimiter::Outcome& o) {
      unavailable += o.available ? 0 : 1;
    });
  }
  limiter.close();
  CHECK(unavailable == 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a check's callback may close the limiter while later checks wait for Redis") {
  RedisServer redis;
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisLimiter limiter(&loop, optionsFor(redis.port()));
  REQUIRE(runUntil(&loop, [&] { return limiter.connected(); }));
  CHECK(burst(&loop, limiter, "k", 1, 0.01, 10).allowed == 1);  // the digest is known

  // The first answer closes the limiter from inside the Redis reply; the four behind it are
  // answered by close(), once each, and a check made then answers at once.
  int answered = 0;
  int unavailable = 0;
  bool late_answered = false;
  for (int i = 0; i < 5; ++i) {
    limiter.check("k", 0.01, 10, [&](const RedisLimiter::Outcome& o) {
      ++answered;
      unavailable += o.available ? 0 : 1;
      if (answered == 1) {
        limiter.close();
        limiter.check("k", 0.01, 10, [&](const RedisLimiter::Outcome& late) {
          late_answered = !late.available;
        });
      }
    });
  }
  REQUIRE(runUntil(&loop, [&] { return answered == 5; }));
  CHECK(unavailable == 4);
  CHECK(late_answered);
  CHECK_FALSE(limiter.connected());
  runUntil(&loop, [] { return false; }, 50);  // nothing answered twice
  CHECK(answered == 5);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
