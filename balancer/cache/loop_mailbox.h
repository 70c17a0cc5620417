#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "balancer/cache/loop_poster.h"

namespace balancer::cache {

// The worker's end of a Post: tasks posted from any thread run on one loop's thread, woken by
// a uv_async_t. A worker opens it with its loop, sets poster() as its thread's poster, and
// closes it (on the loop thread) before it closes its other handles; tasks posted after that
// are dropped (their exchanges are gone with the loop). The mailbox stays alive as long as a
// poster refers to it, so a fill on another worker can still post safely after the close.
class LoopMailbox : public std::enable_shared_from_this<LoopMailbox> {
 public:
  static std::shared_ptr<LoopMailbox> make() { return std::shared_ptr<LoopMailbox>(new LoopMailbox); }
  LoopMailbox(const LoopMailbox&) = delete;
  LoopMailbox& operator=(const LoopMailbox&) = delete;

  // Initializes the wake-up handle on `loop` (before it runs, or on its thread). 0 or a libuv
  // error code.
  int open(uv_loop_t* loop);
  // Any thread: queues the task and wakes the loop; dropped once closed.
  void post(std::function<void()> task);
  // The loop thread: no more tasks; the handle is closed (the mailbox is kept alive until its
  // close callback has run).
  void close();
  // A Post bound to this mailbox.
  Post poster();

 private:
  LoopMailbox() = default;
  static void onAsync(uv_async_t* async);

  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
  bool open_ = false;
  uv_async_t async_{};
  std::shared_ptr<LoopMailbox> self_while_closing_;
};

}  // namespace balancer::cache
