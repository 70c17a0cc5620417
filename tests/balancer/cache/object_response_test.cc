#include "balancer/cache/object_response.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/date.h"
#include "test_headers.h"

using namespace balancer::cache;
using balancer::filters::LocalBodySink;
using cache_test::fields;

namespace {

// A worker's loop in miniature: tasks posted from any thread run on this one, in order.
class TaskLoop {
 public:
  void post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }
  // Runs tasks until `done` says so or the time runs out; false on a timeout.
  bool runUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, deadline, [&] { return !tasks_.empty(); })) {
        return false;
      }
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
    }
    return true;
  }

  // Runs what is queued now, without waiting; returns how many tasks ran.
  size_t runPending() {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) {
      task();
    }
    return tasks.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

// The exchange's side: pulls again after each piece, as the client drains.
struct CollectingSink final : LocalBodySink {
  TaskLoop* loop = nullptr;
  ObjectResponse* response = nullptr;
  std::string body;
  bool ended = false;
  bool failed = false;
  void onBody(std::string_view piece) override {
    body.append(piece);
    loop->post([this] { response->pull(*this, 3000); });
  }
  void onEnd() override { ended = true; }
  void onFailed() override { failed = true; }
};

std::shared_ptr<CachedObject> growing(std::optional<uint64_t> length) {
  ObjectHead head;
  head.headers = fields({{"Cache-Control", "max-age=60"}, {"Age", "5"}, {"ETag", "\"x\""}});
  head.content_length = length;
  head.request_ms = 1000000;
  head.response_ms = 1000000;
  return makeObject(std::move(head), {});
}

}  // namespace

TEST_CASE("a hit's head: stored fields, the current Age, extra lines, the length",
          "[cache]") {
  auto object = growing(5);
  object->body->append("hello");
  object->body->finish();
  ObjectResponse response(object, nullptr, 1000000 + 7500, "X-Cache: HIT\r\n");
  CHECK(response.status == 200);
  CHECK(response.content_length == 5u);
  CHECK(response.headers ==
        "Cache-Control: max-age=60\r\nETag: \"x\"\r\nAge: 12\r\nX-Cache: HIT\r\n");
}

TEST_CASE("a reader on its own loop streams an object while another thread fills it",
          "[cache][threads]") {
  auto object = growing(std::nullopt);
  TaskLoop loop;
  ObjectResponse response(object, [&](std::function<void()> task) { loop.post(task); }, 0, "");
  CHECK_FALSE(response.content_length);  // unknown while it fills: chunked
  CollectingSink sink;
  sink.loop = &loop;
  sink.response = &response;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    expected += "piece " + std::to_string(i) + ";";
  }
  std::thread filler([&] {
    for (size_t at = 0; at < expected.size(); at += 97) {
      object->body->append(std::string_view(expected).substr(at, 97));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    object->body->finish();
  });
  response.pull(sink, 3000);
  bool finished = loop.runUntil([&] { return sink.ended || sink.failed; });
  filler.join();
  REQUIRE(finished);
  CHECK(sink.ended);
  CHECK(sink.body == expected);
}

TEST_CASE("a fill that breaks off fails the reader", "[cache][threads]") {
  auto object = growing(100);
  object->body->append("part");
  TaskLoop loop;
  ObjectResponse response(object, [&](std::function<void()> task) { loop.post(task); }, 0, "");
  CHECK(response.content_length == 100u);
  CollectingSink sink;
  sink.loop = &loop;
  sink.response = &response;
  response.pull(sink, 3000);
  std::thread filler([&] { object->body->fail(); });
  const bool failed = loop.runUntil([&] { return sink.failed; });
  filler.join();
  REQUIRE(failed);
  CHECK(sink.body == "part");
}

TEST_CASE("a response destroyed while it waits calls its sink no more", "[cache][threads]") {
  auto object = growing(std::nullopt);
  TaskLoop loop;
  CollectingSink sink;
  sink.loop = &loop;
  {
    ObjectResponse response(object, [&](std::function<void()> task) { loop.post(task); }, 0,
                            "");
    response.pull(sink, 3000);  // nothing there yet: waits
  }
  std::thread filler([&] {
    object->body->append("late");
    object->body->finish();
  });
  filler.join();
  loop.runPending();
  CHECK(sink.body.empty());
  CHECK_FALSE(sink.ended);
}

TEST_CASE("a 304 freshens the stored head and keeps the body", "[cache]") {
  auto stored = growing(5);
  stored->body->append("hello");
  stored->body->finish();
  auto not_modified = cache_test::headers({{"Cache-Control", "max-age=600"},
                                           {"ETag", "\"x\""},
                                           {"X-New", "1"},
                                           {"Content-Length", "0"},
                                           {"Connection", "close"}});
  auto fresh = freshenedBy304(*stored, not_modified, 2000000, 2000000, {});
  CHECK(fresh->body == stored->body);
  CHECK(fresh->lifetime_ms == 600000);
  CHECK(fresh->times.response_ms == 2000000);
  CHECK(fresh->ageMs(2000000) == 0);  // the stored Age (5) went: the 304 is the newer response
  CHECK(combinedValue(fresh->headers, "age").empty());
  CHECK(combinedValue(fresh->headers, "date") == http::formatHttpDate(2000));
  CHECK(combinedValue(fresh->headers, "cache-control") == "max-age=600");
  CHECK(combinedValue(fresh->headers, "x-new") == "1");
  CHECK(combinedValue(fresh->headers, "content-length").empty());
  CHECK(combinedValue(fresh->headers, "connection").empty());
  CHECK(stored->lifetime_ms == 60000);  // the old object is unchanged
}

TEST_CASE("a hit's pieces are views into the object's chunks, valid while it lives",
          "[cache]") {
  // The exchange queues them by reference on that promise (piecesStable) instead of copying.
  auto object = growing(40000);
  std::string expected(40000, '\0');
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] = static_cast<char>('a' + i % 23);
  }
  object->body->append(expected);
  object->body->finish();
  auto response = std::make_unique<ObjectResponse>(object, nullptr, 0, "");
  CHECK(response->piecesStable());
  struct ViewSink final : LocalBodySink {
    std::vector<std::string_view> pieces;
    bool ended = false;
    void onBody(std::string_view piece) override { pieces.push_back(piece); }
    void onEnd() override { ended = true; }
    void onFailed() override {}
  } sink;
  while (!sink.ended) {
    response->pull(sink, 64 * 1024);
  }
  REQUIRE(sink.pieces.size() > 1);  // shorter than asked at a chunk's end
  std::string joined;
  uint64_t offset = 0;
  for (std::string_view piece : sink.pieces) {
    CHECK(piece.data() == object->body->read(offset, piece.size()).data());  // not a copy
    offset += piece.size();
    joined.append(piece);
  }
  CHECK(joined == expected);
  // Only the response holds the object now: its pieces stay readable until it goes.
  std::weak_ptr<CachedObject> weak = object;
  object.reset();
  CHECK_FALSE(weak.expired());
  std::string_view last = sink.pieces.back();
  CHECK(last == std::string_view(expected).substr(expected.size() - last.size()));
  response.reset();
  CHECK(weak.expired());
}
