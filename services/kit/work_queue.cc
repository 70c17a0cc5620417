#include "services/kit/work_queue.h"

#include <utility>

namespace kit {

WorkQueue::WorkQueue(uv_loop_t* loop, std::string name, int threads, size_t capacity)
    : loop_(loop), name_(std::move(name)), capacity_(capacity) {
  finished_async_ = new uv_async_t;
  uv_async_init(loop_, finished_async_, onFinished);
  finished_async_->data = this;
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { runThread(); });
  }
}

WorkQueue::~WorkQueue() { close(); }

bool WorkQueue::submit(std::function<void()> work, std::function<void(std::exception_ptr)> done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_ && queued_.size() < capacity_) {
      queued_.push_back(Job{std::move(work), std::move(done), nullptr});
      wake_.notify_one();
      return true;
    }
  }
  ++refused_;
  return false;
}

void WorkQueue::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  std::deque<Job> not_started;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    not_started.swap(queued_);
  }
  wake_.notify_all();
  for (Job& job : not_started) {
    job.done(std::make_exception_ptr(WorkQueueClosed()));
  }
  for (std::thread& t : threads_) {
    t.join();
  }
  threads_.clear();
  onFinished(finished_async_);  // answer what finished since the last wake-up
  uv_close(reinterpret_cast<uv_handle_t*>(finished_async_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
}

size_t WorkQueue::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_.size();
}

void WorkQueue::runThread() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) {
        return;  // stopping, and nothing left to do
      }
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    try {
      job.work();
    } catch (...) {
      job.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_.push_back(std::move(job));
    }
    uv_async_send(finished_async_);
  }
}

void WorkQueue::onFinished(uv_async_t* async) {
  auto* self = static_cast<WorkQueue*>(async->data);
  std::deque<Job> finished;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    finished.swap(self->finished_);
  }
  for (Job& job : finished) {
    job.done(job.error);
  }
}

}  // namespace kit
