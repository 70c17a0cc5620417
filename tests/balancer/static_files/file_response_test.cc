#include <fcntl.h>
#include <uv.h>

#include <catch2/catch.hpp>

#include "balancer/static_files/file_response.h"
#include "temp_tree.h"

using balancer::static_files::BufferedResponse;
using balancer::static_files::FileResponse;
using static_files_test::CollectSink;
using static_files_test::drain;
using static_files_test::TempTree;

namespace {

// A loop that must end with nothing left on it (no fd, no request leaked).
struct Loop {
  Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  uv_loop_t loop;
};

int openFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + i % 26);
  }
  return s;
}

// Whether `fd` is still open in this process.
bool isOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE("a file is read in pieces of at most the pull's size, then ends") {
  TempTree tree;
  std::string content = pattern(100000);
  tree.file("big.bin", content);
  Loop l;
  int fd = openFile(tree.root() + "/big.bin");
  {
    FileResponse response(&l.loop, fd, 0, content.size());
    CHECK(response.content_length == content.size());
    auto out = drain(response, &l.loop, 16384);
    CHECK(out.ended);
    CHECK_FALSE(out.failed);
    CHECK(out.body == content);
    CHECK(out.pieces == 7);  // 6 x 16 KiB + the rest
  }
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK_FALSE(isOpen(fd));  // closed on the thread pool once dropped
}

TEST_CASE("a range of the file is read from its offset") {
  TempTree tree;
  std::string content = pattern(5000);
  tree.file("f.bin", content);
  Loop l;
  FileResponse response(&l.loop, openFile(tree.root() + "/f.bin"), 1000, 2500);
  auto out = drain(response, &l.loop, 1024);
  CHECK(out.body == content.substr(1000, 2500));
  CHECK(out.ended);
}

TEST_CASE("reads do not run on the loop's thread: a pull answers later") {
  TempTree tree;
  tree.file("f.txt", "later");
  Loop l;
  FileResponse response(&l.loop, openFile(tree.root() + "/f.txt"), 0, 5);
  CollectSink sink;
  response.pull(sink, 4096);
  CHECK(sink.answers == 0);  // the read is on the thread pool
  while (sink.answers == 0) {
    uv_run(&l.loop, UV_RUN_ONCE);
  }
  CHECK(sink.out.body == "later");
}

TEST_CASE("dropping a response with a read in flight calls the sink no more and closes the file") {
  TempTree tree;
  tree.file("f.txt", pattern(10000));
  Loop l;
  int fd = openFile(tree.root() + "/f.txt");
  CollectSink sink;
  {
    auto response = std::make_unique<FileResponse>(&l.loop, fd, 0, 10000);
    response->pull(sink, 4096);
  }  // dropped before the read's callback
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(sink.answers == 0);
  CHECK_FALSE(isOpen(fd));
}

TEST_CASE("a sink may pull again, or drop the response, from inside onBody") {
  TempTree tree;
  std::string content = pattern(9000);
  tree.file("f.txt", content);
  Loop l;

  // Pulls again at once while it is handed a piece, as an exchange whose client keeps up.
  struct Eager final : balancer::filters::LocalBodySink {
    FileResponse* response = nullptr;
    std::string body;
    bool ended = false;
    void onBody(std::string_view piece) override {
      response->pull(*this, 1000);  // before copying: the piece must stay intact
      body.append(piece);
    }
    void onEnd() override { ended = true; }
    void onFailed() override { FAIL("read failed"); }
  } eager;
  FileResponse response(&l.loop, openFile(tree.root() + "/f.txt"), 0, content.size());
  eager.response = &response;
  response.pull(eager, 1000);
  while (!eager.ended) {
    uv_run(&l.loop, UV_RUN_ONCE);
  }
  CHECK(eager.body == content);

  // Drops the response while handed its first piece, as an exchange whose client left.
  struct Leaving final : balancer::filters::LocalBodySink {
    std::unique_ptr<FileResponse> response;
    int pieces = 0;
    void onBody(std::string_view) override {
      ++pieces;
      response.reset();
    }
    void onEnd() override {}
    void onFailed() override {}
  } leaving;
  int fd = openFile(tree.root() + "/f.txt");
  leaving.response = std::make_unique<FileResponse>(&l.loop, fd, 0, content.size());
  leaving.response->pull(leaving, 1000);
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(leaving.pieces == 1);
  CHECK_FALSE(isOpen(fd));
}

TEST_CASE("a file shorter than promised fails the body instead of hanging") {
  TempTree tree;
  tree.file("f.txt", "short");
  Loop l;
  FileResponse response(&l.loop, openFile(tree.root() + "/f.txt"), 0, 100);
  auto out = drain(response, &l.loop);
  CHECK(out.body == "short");
  CHECK(out.failed);
  CHECK_FALSE(out.ended);
}

TEST_CASE("a buffered response gives its body in pieces, then ends") {
  BufferedResponse response("0123456789");
  CHECK(response.content_length == 10);
  Loop l;
  auto out = drain(response, &l.loop, 4);
  CHECK(out.body == "0123456789");
  CHECK(out.pieces == 3);
  CHECK(out.ended);
}
