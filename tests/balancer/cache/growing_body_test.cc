#include "balancer/cache/growing_body.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using balancer::cache::GrowingBody;

namespace {

// Reads the whole body as a worker would: what is there, then wait for a wake-up.
std::string readAll(const GrowingBody& body, size_t piece) {
  std::string out;
  std::mutex mu;
  std::condition_variable cv;
  for (;;) {
    std::string_view got = body.read(out.size(), piece);
    if (!got.empty()) {
      out.append(got);
      continue;
    }
    if (body.state() != GrowingBody::State::kGrowing && body.size() == out.size()) {
      return out;
    }
    bool woken = false;
    uint64_t ticket = body.waitBeyond(out.size(), [&] {
      std::lock_guard<std::mutex> lock(mu);
      woken = true;
      cv.notify_one();
    });
    if (ticket != 0) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return woken; });
    }
  }
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  return s;
}

}  // namespace

TEST_CASE("a growing body reads back what was appended, across chunks", "[cache]") {
  GrowingBody body;
  const std::string data = pattern(100000);
  body.append(std::string_view(data).substr(0, 10));
  body.append(std::string_view(data).substr(10));
  body.finish();
  CHECK(body.size() == data.size());
  std::string out;
  while (out.size() < data.size()) {
    std::string_view piece = body.read(out.size(), 5000);
    REQUIRE_FALSE(piece.empty());
    CHECK(piece.size() <= 5000);
    out.append(piece);
  }
  CHECK(out == data);
  CHECK(body.read(data.size(), 10).empty());
  CHECK(body.waitBeyond(data.size(), [] {}) == 0);  // complete: nothing to wait for
}

TEST_CASE("a body with a size hint holds no more than it needs", "[cache]") {
  GrowingBody small(27);
  small.append(std::string(27, 'x'));
  small.finish();
  CHECK(small.capacityBytes() == 27);
  GrowingBody unknown;
  unknown.append("abc");
  CHECK(unknown.capacityBytes() == GrowingBody::kFirstChunkBytes);
}

TEST_CASE("readers that join mid-fill get every byte, in order, while it grows",
          "[cache][threads]") {
  GrowingBody body;
  const std::string data = pattern(300000);
  std::atomic<size_t> written{0};
  std::vector<std::string> results(4);
  std::vector<std::thread> readers;
  std::thread writer([&] {
    for (size_t at = 0; at < data.size(); at += 1000) {
      body.append(std::string_view(data).substr(at, 1000));
      written.store(at + 1000);
      if (at % 50000 == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    body.finish();
  });
  for (size_t i = 0; i < results.size(); ++i) {
    // Readers start at different points of the fill.
    while (written.load() < i * 60000) {
      std::this_thread::yield();
    }
    readers.emplace_back([&, i] { results[i] = readAll(body, 4096 + i * 1000); });
  }
  writer.join();
  for (auto& reader : readers) {
    reader.join();
  }
  for (const std::string& result : results) {
    CHECK(result == data);
  }
}

TEST_CASE("a failed body wakes its readers, who see the failure", "[cache][threads]") {
  GrowingBody body;
  body.append("partial");
  std::atomic<bool> woken{false};
  CHECK(body.waitBeyond(7, [&] { woken = true; }) != 0);
  std::thread writer([&] { body.fail(); });
  writer.join();
  CHECK(woken);
  CHECK(body.state() == GrowingBody::State::kFailed);
  body.append("more");  // ignored after the end
  CHECK(body.size() == 7);
}

TEST_CASE("a cancelled wait is not called", "[cache]") {
  GrowingBody body;
  bool called = false;
  uint64_t ticket = body.waitBeyond(0, [&] { called = true; });
  REQUIRE(ticket != 0);
  body.cancelWait(ticket);
  body.append("x");
  CHECK_FALSE(called);
}

TEST_CASE("a body announced at 64 KiB or more is kept in a memfd, offered once complete") {
  std::string bytes(GrowingBody::kFileMin + 5, 'x');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>('a' + i % 26);
  }
  GrowingBody body(bytes.size());
  body.append(std::string_view(bytes).substr(0, 1000));
  CHECK(body.file() == -1);  // still growing
  body.append(std::string_view(bytes).substr(1000));
  CHECK(body.read(0, bytes.size()) == bytes);  // one chunk: one view of it all
  body.finish();
  int fd = body.file();
  REQUIRE(fd >= 0);
  std::string in_file(bytes.size(), '\0');
  CHECK(pread(fd, in_file.data(), in_file.size(), 0) == static_cast<ssize_t>(bytes.size()));
  CHECK(in_file == bytes);
  CHECK(body.capacityBytes() == bytes.size());

  SECTION("smaller, or unannounced, bodies stay in chunks") {
    GrowingBody small(GrowingBody::kFileMin - 1);
    small.append(std::string(GrowingBody::kFileMin - 1, 'y'));
    small.finish();
    CHECK(small.file() == -1);
    GrowingBody unannounced;
    unannounced.append(bytes);
    unannounced.finish();
    CHECK(unannounced.file() == -1);
  }
  SECTION("a body longer than announced is not offered as the file") {
    GrowingBody longer(GrowingBody::kFileMin);
    longer.append(bytes);
    longer.finish();
    CHECK(longer.file() == -1);
    CHECK(longer.read(GrowingBody::kFileMin, 100) == bytes.substr(GrowingBody::kFileMin));
  }
  SECTION("a failed body is not offered") {
    GrowingBody broken(bytes.size());
    broken.append(std::string_view(bytes).substr(0, 100));
    broken.fail();
    CHECK(broken.file() == -1);
  }
}
