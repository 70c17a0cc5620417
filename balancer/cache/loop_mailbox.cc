#include "balancer/cache/loop_mailbox.h"

namespace balancer::cache {

int LoopMailbox::open(uv_loop_t* loop) {
  int r = uv_async_init(loop, &async_, &LoopMailbox::onAsync);
  if (r != 0) {
    return r;
  }
  async_.data = this;
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  return 0;
}

void LoopMailbox::post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) {
    return;
  }
  tasks_.push_back(std::move(task));
  // Under the lock: close() cannot close the handle between the check and the send.
  uv_async_send(&async_);
}

void LoopMailbox::close() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) {
      return;
    }
    open_ = false;
    dropped.swap(tasks_);
  }
  self_while_closing_ = shared_from_this();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* handle) {
    auto* box = static_cast<LoopMailbox*>(handle->data);
    std::shared_ptr<LoopMailbox> last = std::move(box->self_while_closing_);
  });
}

Post LoopMailbox::poster() {
  std::shared_ptr<LoopMailbox> self = shared_from_this();
  return [self](std::function<void()> task) { self->post(std::move(task)); };
}

void LoopMailbox::onAsync(uv_async_t* async) {
  auto* box = static_cast<LoopMailbox*>(async->data);
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(box->mu_);
    tasks.swap(box->tasks_);
  }
  for (auto& task : tasks) {
    task();
  }
}

}  // namespace balancer::cache
