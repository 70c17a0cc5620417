#pragma once

#include <functional>

namespace balancer::cache {

// How code on a worker's thread gets back onto that thread's loop from another thread (a
// cache fill on another worker woke it). A worker sets its poster once on its thread; the
// poster queues the task and wakes the loop (a uv_async_t), and never runs it inline.
using Post = std::function<void(std::function<void()>)>;

void setThreadPoster(Post post);
// This thread's poster, or null on a thread without one (then nothing waits for a fill).
const Post* threadPoster();

}  // namespace balancer::cache
