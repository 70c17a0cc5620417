#include "balancer/cache/fill_table.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_headers.h"

using namespace balancer::cache;
using cache_test::fields;

namespace {

const Key kKey{1, 2};

std::shared_ptr<CachedObject> growingObject() {
  ObjectHead head;
  head.headers = fields({{"Cache-Control", "max-age=60"}});
  head.primary = kKey;
  return makeObject(std::move(head), {});
}

// What a waiter on another worker does: wait (bounded) for its callback, as a loop would for
// its async handle.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  FillTable::Outcome outcome = FillTable::Outcome::kBypass;
  std::shared_ptr<const CachedObject> object;

  FillTable::Wake wake() {
    return [this](FillTable::Outcome o, std::shared_ptr<const CachedObject> obj) {
      std::lock_guard<std::mutex> lock(mu);
      woken = true;
      outcome = o;
      object = std::move(obj);
      cv.notify_one();
    };
  }
  bool waitFor(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, limit, [&] { return woken; });
  }
};

}  // namespace

TEST_CASE("the first miss fills; 100 concurrent misses on other threads get its object",
          "[cache][threads]") {
  FillTable fills;
  constexpr int kRequests = 100;
  std::atomic<int> fillers{0};
  std::atomic<int> served{0};
  std::atomic<int> joined{0};
  std::vector<std::thread> threads;
  const std::string body(50000, 'z');
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&] {
      Waiter waiter;
      FillTable::Join join = fills.join(kKey, waiter.wake());
      ++joined;
      std::shared_ptr<const CachedObject> object;
      if (join.role == FillTable::Role::kFiller) {
        ++fillers;
        // The origin answers once everyone has joined: all of them collapse onto this fill.
        while (joined.load() < kRequests) {
          std::this_thread::yield();
        }
        auto filling = growingObject();
        fills.publish(kKey, filling);
        for (size_t at = 0; at < body.size(); at += 5000) {
          filling->body->append(std::string_view(body).substr(at, 5000));
        }
        filling->body->finish();
        fills.finish(kKey);
        object = filling;
      } else if (join.role == FillTable::Role::kFollow) {
        object = join.object;
      } else {
        // Catch's assertions are not thread-safe: a thread only counts what it saw.
        if (!waiter.waitFor(std::chrono::seconds(10)) ||
            waiter.outcome != FillTable::Outcome::kObject) {
          return;
        }
        object = waiter.object;
      }
      // Follow the growing body to its end.
      uint64_t read = 0;
      while (object->body->state() == GrowingBody::State::kGrowing ||
             read < object->body->size()) {
        read += object->body->read(read, 65536).size();
      }
      if (read == body.size()) {
        ++served;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(fillers == 1);
  CHECK(served == kRequests);
  CHECK(fills.inProgress() == 0);
}

TEST_CASE("an uncacheable head sends the waiters to the origin at once", "[cache][threads]") {
  FillTable fills;
  REQUIRE(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
  Waiter a, b;
  REQUIRE(fills.join(kKey, a.wake()).role == FillTable::Role::kWait);
  REQUIRE(fills.join(kKey, b.wake()).role == FillTable::Role::kWait);
  std::thread filler([&] { fills.abandon(kKey); });
  filler.join();
  REQUIRE(a.waitFor(std::chrono::seconds(5)));
  REQUIRE(b.waitFor(std::chrono::seconds(5)));
  CHECK(a.outcome == FillTable::Outcome::kBypass);
  CHECK(b.outcome == FillTable::Outcome::kBypass);
  // The key is free again: the next miss fills.
  CHECK(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
}

TEST_CASE("a request that may not fill follows a fill in progress, else goes alone",
          "[cache][threads]") {
  FillTable fills;
  CHECK(fills.join(kKey, nullptr, /*may_fill=*/false).role == FillTable::Role::kAlone);
  CHECK(fills.inProgress() == 0);  // it started nothing
  REQUIRE(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
  Waiter a;
  REQUIRE(fills.join(kKey, a.wake(), false).role == FillTable::Role::kWait);
  fills.abandon(kKey);
  REQUIRE(a.waitFor(std::chrono::seconds(5)));
  CHECK(a.outcome == FillTable::Outcome::kBypass);
}

TEST_CASE("a waiter whose wait runs out leaves and is not called later", "[cache][threads]") {
  FillTable fills;
  REQUIRE(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
  Waiter late;
  FillTable::Join join = fills.join(kKey, late.wake());
  REQUIRE(join.role == FillTable::Role::kWait);
  CHECK_FALSE(late.waitFor(std::chrono::milliseconds(20)));  // the bounded wait ends
  CHECK(fills.leave(kKey, join.ticket));
  std::thread filler([&] { fills.publish(kKey, growingObject()); });
  filler.join();
  CHECK_FALSE(late.woken);
  CHECK_FALSE(fills.leave(kKey, join.ticket));
}

TEST_CASE("a miss after publish follows the growing object; after finish it fills anew",
          "[cache]") {
  FillTable fills;
  REQUIRE(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
  auto object = growingObject();
  fills.publish(kKey, object);
  FillTable::Join follower = fills.join(kKey, nullptr);
  CHECK(follower.role == FillTable::Role::kFollow);
  CHECK(follower.object == object);
  fills.finish(kKey);
  CHECK(fills.join(kKey, nullptr).role == FillTable::Role::kFiller);
}
