#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kit {

// CPU-bound work (password hashing) on threads of its own, with a bounded queue: a flood of
// such work waits here, not in libuv's shared pool ahead of database work, and once `capacity`
// jobs wait, submit() refuses at once so the caller can answer 503 instead of queueing.
// `done` runs on the loop thread with the exception the work threw, if any.
// What `done` receives for a job that was still waiting when the queue closed.
class WorkQueueClosed : public std::runtime_error {
 public:
  WorkQueueClosed() : std::runtime_error("the service is stopping") {}
};

class WorkQueue {
 public:
  WorkQueue(uv_loop_t* loop, std::string name, int threads, size_t capacity);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False (and nothing queued) when `capacity` jobs already wait or the queue is closed.
  bool submit(std::function<void()> work, std::function<void(std::exception_ptr)> done);

  // Refuses new work, answers the jobs still waiting with WorkQueueClosed (their `done` runs
  // now, on the loop), lets each thread finish the one job it is running and joins them.
  // Call on the loop thread at shutdown (App::onShutdown): the loop waits for at most one job
  // per thread, never for the whole queue.
  void close();

  size_t waiting() const;
  uint64_t refused() const { return refused_; }
  const std::string& name() const { return name_; }

 private:
  struct Job {
    std::function<void()> work;
    std::function<void(std::exception_ptr)> done;
    std::exception_ptr error;
  };
  void runThread();
  static void onFinished(uv_async_t* async);

  uv_loop_t* loop_;
  std::string name_;
  size_t capacity_;
  uv_async_t* finished_async_;  // on the heap: freed by its close callback
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queued_;    // guarded by mutex_
  std::deque<Job> finished_;  // guarded by mutex_
  bool stopping_ = false;     // guarded by mutex_
  bool closed_ = false;       // loop thread only
  uint64_t refused_ = 0;      // loop thread only
};

}  // namespace kit
