#include <catch2/catch.hpp>

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "services/kit/work_queue.h"

namespace {

// Lets the test hold the queue's threads busy until it says go.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("WorkQueue runs work on its threads and answers on the loop; full refuses at once") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    kit::WorkQueue queue(&loop, "test", /*threads=*/1, /*capacity=*/2);
    Gate gate;
    std::thread::id loop_thread = std::this_thread::get_id();
    std::atomic<int> ran{0};
    std::vector<int> done;
    bool done_on_loop = true;
    auto job = [&](int n) {
      return queue.submit(
          [&] {
            gate.wait();
            ++ran;
          },
          [&, n](std::exception_ptr error) {
            CHECK_FALSE(error);
            done_on_loop = done_on_loop && std::this_thread::get_id() == loop_thread;
            done.push_back(n);
          });
    };
    REQUIRE(job(1));
    // The thread takes job 1 off the queue; then two may wait and a fourth is refused.
    for (int i = 0; i < 200 && queue.waiting() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(job(2));
    CHECK(job(3));
    CHECK(queue.waiting() == 2);
    CHECK_FALSE(job(4));
    CHECK(queue.refused() == 1);

    gate.release();
    for (int i = 0; i < 400 && done.size() < 3; ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(done == std::vector<int>{1, 2, 3});
    CHECK(done_on_loop);
    CHECK(ran == 3);

    // An exception in the work reaches `done`; close() answers what was queued.
    std::exception_ptr seen;
    CHECK(queue.submit([] { throw std::runtime_error("argon2 failed"); },
                       [&](std::exception_ptr error) { seen = error; }));
    queue.close();
    CHECK(seen);
    CHECK_FALSE(queue.submit([] {}, [](std::exception_ptr) {}));
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("WorkQueue::close answers waiting jobs at once and waits only for running ones") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    kit::WorkQueue queue(&loop, "test", /*threads=*/1, /*capacity=*/8);
    Gate gate;
    std::atomic<int> ran{0};
    std::exception_ptr first_error;
    bool first_done = false;
    REQUIRE(queue.submit(
        [&] {
          gate.wait();
          ++ran;
        },
        [&](std::exception_ptr error) {
          first_done = true;
          first_error = error;
        }));
    for (int i = 0; i < 200 && queue.waiting() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(queue.waiting() == 0);  // the thread holds job 1
    int closed_answers = 0;
    for (int i = 0; i < 5; ++i) {
      REQUIRE(queue.submit([&] { ++ran; },
                           [&](std::exception_ptr error) {
                             try {
                               std::rethrow_exception(error);
                             } catch (const kit::WorkQueueClosed&) {
                               ++closed_answers;
                             } catch (...) {
                             }
                           }));
    }
    std::thread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      gate.release();
    });
    queue.close();
    opener.join();
    CHECK(closed_answers == 5);  // answered, never run
    CHECK(first_done);           // the running job finished and was answered
    CHECK_FALSE(first_error);
    CHECK(ran == 1);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
