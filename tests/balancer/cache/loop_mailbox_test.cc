#include "balancer/cache/loop_mailbox.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>
#include <vector>

using balancer::cache::LoopMailbox;

TEST_CASE("tasks posted from other threads run on the loop's thread, in order",
          "[cache][threads]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto box = LoopMailbox::make();
  REQUIRE(box->open(&loop) == 0);
  auto post = box->poster();
  std::vector<int> ran;  // touched on the loop thread only
  std::thread::id loop_thread;
  bool wrong_thread = false;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      post([&, i] {
        wrong_thread = wrong_thread || std::this_thread::get_id() != loop_thread;
        ran.push_back(i);
        if (ran.size() == 100) {
          box->close();  // the last one closes: the loop then has nothing left and returns
        }
      });
    }
  });
  loop_thread = std::this_thread::get_id();
  uv_run(&loop, UV_RUN_DEFAULT);
  poster.join();
  REQUIRE(ran.size() == 100);
  for (int i = 0; i < 100; ++i) {
    CHECK(ran[i] == i);
  }
  CHECK_FALSE(wrong_thread);
  // Closed: a late post (a fill on another worker finishing) is dropped, not run or crashed.
  bool late = false;
  post([&] { late = true; });
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_FALSE(late);
  CHECK(uv_loop_close(&loop) == 0);
}
