#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace balancer {

class AccessLog;

// One worker's pending access log lines. The worker appends under a mutex that only the
// writer thread also takes, for the instant it swaps the buffer out (every 100 ms at most, or
// sooner when the buffer passes kWakeBytes), so the lock is almost never contended.
class AccessLogSink {
 public:
  explicit AccessLogSink(AccessLog* log) : log_(log) {}
  AccessLogSink(const AccessLogSink&) = delete;
  AccessLogSink& operator=(const AccessLogSink&) = delete;

  // Appends whole lines (each ending in '\n'). Called by the owning worker only. When the
  // writer is so far behind that kMaxPendingBytes are waiting, the lines are dropped and
  // counted rather than let memory grow.
  void append(std::string_view lines);

 private:
  friend class AccessLog;
  static constexpr size_t kWakeBytes = 64 * 1024;
  static constexpr size_t kMaxPendingBytes = 8 * 1024 * 1024;

  AccessLog* log_;
  std::mutex mutex_;
  std::string pending_;
  bool woke_writer_ = false;
};

// The process's access log: a file (or stdout) and the thread that writes to it. Each cycle
// the writer swaps every worker's buffer for an empty one and writes what it took with one
// writev(2). Lines reach the file within 100 ms, and all of them at stop().
class AccessLog {
 public:
  // path: a file, opened for appending (created 0644), or "stdout". Returns null and sets
  // `error` when the file cannot be opened.
  static std::unique_ptr<AccessLog> open(const std::string& path, std::string* error);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // A buffer for one worker. Call before start().
  AccessLogSink* addSink();
  void start();
  // Writes what is pending and ends the writer thread. Idempotent.
  void stop();
  // Thread-safe (SIGUSR1): the writer opens the path again before its next write, so after
  // logrotate renamed the file a new one begins.
  void reopen();
  // Lines dropped because the writer fell behind.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }

 private:
  friend class AccessLogSink;
  AccessLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void wake();
  void run();
  // Takes every sink's lines and writes them.
  void flush();
  void reopenFile();

  std::string path_;
  int fd_;
  std::vector<std::unique_ptr<AccessLogSink>> sinks_;
  std::vector<std::string> batches_;  // the writer's side of each sink's swap
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace balancer
