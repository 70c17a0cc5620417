#pragma once

#include <uv.h>

#include <pqxx/connection>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/util/units.h"


namespace kit {

// PostgreSQL connections for one libuv loop. Each query runs on the uv thread pool with a
// connection of its own, never on the loop thread (libpqxx blocks); its completion comes back
// on the loop. When every connection is busy, work waits in a queue (counted: pool waits)
// up to acquire_timeout, then fails with kit::Unavailable (503). A lost connection is
// dropped and a new one opened by the next query, so the service recovers by itself when
// PostgreSQL returns; one the server closed while it sat idle is replaced before it is used.
// Each new connection prepares the statements given in Options.
class PgPool {
 public:
  struct Options {
    std::string url;  // libpq URL; connect_timeout=2 is added when absent
    int size = 4;
    util::Millis acquire_timeout{3000};
    size_t max_waiting = 10000;
    std::vector<std::pair<std::string, std::string>> statements;  // name, SQL
  };
  using Work = std::function<void(pqxx::connection&)>;
  using Done = std::function<void(std::exception_ptr error)>;  // null: success

  struct Stats {
    uint64_t queries = 0;
    uint64_t failures = 0;
    uint64_t waits = 0;             // queries that found no free connection
    double wait_seconds_total = 0;  // time they waited
    int busy = 0;
    int size = 0;
    size_t waiting = 0;
    bool up = true;  // the last query reached the server
  };

  PgPool(uv_loop_t* loop, Options options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // work runs on a pool thread with a connection; done runs on the loop thread afterwards
  // (never from inside run()).
  void run(Work work, Done done);
  const Stats& stats() const { return stats_; }
  // Fails waiting work and refuses new work; running queries finish.
  void close();

 private:
  struct Slot {
    std::unique_ptr<pqxx::connection> conn;
    uint64_t generation = 0;  // generation_ when it connected
  };
  struct Job;

  void start(std::unique_ptr<Job> job, int slot);
  void failLater(Done done, const char* why);
  void pump();
  void armTimer();
  static void onWork(uv_work_t* req);
  static void onAfterWork(uv_work_t* req, int status);
  static void onTimer(uv_timer_t* timer);

  uv_loop_t* loop_;
  Options options_;
  std::vector<Slot> slots_;
  std::vector<int> free_;
  std::deque<std::unique_ptr<Job>> waiting_;
  uv_timer_t* timer_;  // expires waiting work and delivers deferred failures
  std::vector<std::pair<Done, const char*>> deferred_;
  Stats stats_;
  // Bumped when a query finds the server gone: the other idle connections are from before
  // (a restarted server has closed them all), so each is replaced before its next use
  // instead of failing one more request.
  std::atomic<uint64_t> generation_{0};
  bool closed_ = false;
};

}  // namespace kit
