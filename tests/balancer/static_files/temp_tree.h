#pragma once

// A folder of real files for a test, removed when the test ends, and a way to drain a
// LocalResponse on a real libuv loop.

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "balancer/filters/filter.h"

namespace static_files_test {

class TempTree {
 public:
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "static-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    base_ = pattern;
    root_ = base_ + "/root";
    std::filesystem::create_directory(root_);
  }
  ~TempTree() { std::filesystem::remove_all(base_); }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  // The folder served; outside() is beside it, for files a symlink must not reach.
  const std::string& root() const { return root_; }
  const std::string& outside() const { return base_; }

  // Writes `content` to root/`rel` (folders made as needed), its mtime set to `mtime`.
  void file(const std::string& rel, const std::string& content, time_t mtime = 784111777) {
    std::filesystem::path p = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    timeval times[2] = {{mtime, 0}, {mtime, 0}};
    REQUIRE(utimes(p.c_str(), times) == 0);
  }
  void dir(const std::string& rel) {
    std::filesystem::create_directories(std::filesystem::path(root_) / rel);
  }
  // root/`rel` -> `target` (as given: absolute, or relative to rel's folder).
  void symlink(const std::string& target, const std::string& rel) {
    REQUIRE(::symlink(target.c_str(), (root_ + "/" + rel).c_str()) == 0);
  }

 private:
  std::string base_;
  std::string root_;
};

// What a response's pulls gave.
struct Drained {
  std::string body;
  bool ended = false;
  bool failed = false;
  int pieces = 0;
};

class CollectSink final : public balancer::filters::LocalBodySink {
 public:
  void onBody(std::string_view piece) override {
    out.body.append(piece);
    ++out.pieces;
    ++answers;
  }
  void onEnd() override {
    out.ended = true;
    ++answers;
  }
  void onFailed() override {
    out.failed = true;
    ++answers;
  }
  Drained out;
  int answers = 0;
};

// Pulls `response` to its end as an exchange would, running `loop` while a read is out.
inline Drained drain(balancer::filters::LocalResponse& response, uv_loop_t* loop,
                     size_t max = 4096) {
  CollectSink sink;
  for (int turns = 0; !sink.out.ended && !sink.out.failed && turns < 100000; ++turns) {
    int before = sink.answers;
    response.pull(sink, max);
    while (sink.answers == before) {
      uv_run(loop, UV_RUN_ONCE);
    }
  }
  return sink.out;
}

}  // namespace static_files_test
