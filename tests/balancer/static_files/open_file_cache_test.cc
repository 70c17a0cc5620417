#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "balancer/static_files/file_response.h"
#include "balancer/static_files/open_file_cache.h"
#include "temp_tree.h"

using balancer::static_files::Coding;
using balancer::static_files::FileResponse;
using balancer::static_files::OpenFile;
using balancer::static_files::OpenFileCache;
using balancer::static_files::ResolvedFile;
using balancer::static_files::openWithSiblings;
using balancer::static_files::resolveUnderRoot;
using static_files_test::drain;
using static_files_test::TempTree;

namespace {

std::shared_ptr<const OpenFile> lookUp(const TempTree& tree, const std::string& path) {
  ResolvedFile found = resolveUnderRoot(tree.root(), path, "index.html");
  REQUIRE(found.outcome == ResolvedFile::Outcome::kFile);
  return openWithSiblings(std::move(found));
}

bool isOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE("a lookup opens the file and its siblings, and reads the pages of small ones") {
  TempTree tree;
  tree.file("app.js", std::string(5000, 'a'));
  tree.file("app.js.gz", "gz");
  auto file = lookUp(tree, "/app.js");
  CHECK(file->name == "app.js");
  CHECK(file->version(Coding::kIdentity).stat.st_size == 5000);
  CHECK(file->version(Coding::kGzip).fd.valid());
  CHECK_FALSE(file->version(Coding::kBr).fd.valid());
  CHECK_FALSE(file->version(Coding::kZstd).fd.valid());
  CHECK(file->pages_read);
  CHECK(file->unchanged());

  tree.file("big.bin", std::string(OpenFile::kReadAheadMax + 1, 'b'));
  CHECK_FALSE(lookUp(tree, "/big.bin")->pages_read);  // read and sent on the pool
}

TEST_CASE("a cached file is fresh until it changes, is deleted, or its validity time ends") {
  TempTree tree;
  tree.file("a.txt", "v1");
  OpenFileCache cache(8, 1000, 10000);
  cache.put("a", lookUp(tree, "/a.txt"), 0, cache.generation());
  CHECK(cache.find("a", 999) != nullptr);
  CHECK(cache.find("b", 999) == nullptr);

  SECTION("past the validity time one caller looks again; the others go on with it") {
    CHECK(cache.find("a", 1000) == nullptr);
    CHECK(cache.find("a", 1001) != nullptr);
    CHECK(cache.find("a", 1999) != nullptr);
    CHECK(cache.find("a", 2000) == nullptr);
  }
  SECTION("rewritten in place: another size or time") {
    tree.file("a.txt", "v1", 784111778);
    CHECK(cache.find("a", 10) == nullptr);
    CHECK(cache.size() == 0);
  }
  SECTION("deleted") {
    REQUIRE(unlink((tree.root() + "/a.txt").c_str()) == 0);
    CHECK(cache.find("a", 10) == nullptr);
  }
  SECTION("replaced by a rename") {
    tree.file("a.new", "v1");  // same size and time: only the link count tells
    REQUIRE(rename((tree.root() + "/a.new").c_str(), (tree.root() + "/a.txt").c_str()) == 0);
    CHECK(cache.find("a", 10) == nullptr);
  }
  SECTION("a sibling deleted") {
    tree.file("b.txt", "b");
    tree.file("b.txt.br", "br");
    cache.put("b", lookUp(tree, "/b.txt"), 0, cache.generation());
    REQUIRE(unlink((tree.root() + "/b.txt.br").c_str()) == 0);
    CHECK(cache.find("b", 10) == nullptr);
  }
}

TEST_CASE("the cache keeps at most its bound, least recently used out first, and closes them") {
  TempTree tree;
  OpenFileCache cache(3, 1000, 10000);
  int fds[4];
  for (int i = 0; i < 4; ++i) {
    tree.file(std::to_string(i), "x");
    auto file = lookUp(tree, "/" + std::to_string(i));
    fds[i] = file->version(Coding::kIdentity).fd.get();
    cache.put(std::to_string(i), std::move(file), 10, cache.generation());
    if (i == 2) {
      CHECK(cache.find("0", 11) != nullptr);  // 0 is used: 1 is the least recent
    }
  }
  CHECK(cache.size() == 3);
  CHECK(cache.find("1", 12) == nullptr);
  CHECK_FALSE(isOpen(fds[1]));
  for (int i : {0, 2, 3}) {
    CHECK(cache.find(std::to_string(i), 12) != nullptr);
    CHECK(isOpen(fds[i]));
  }
}

TEST_CASE("unused entries close after the inactive time; clear closes all, but not in use") {
  TempTree tree;
  tree.file("a", "a");
  tree.file("b", "b");
  OpenFileCache cache(8, 1000, 5000);
  auto a = lookUp(tree, "/a");
  int a_fd = a->version(Coding::kIdentity).fd.get();
  cache.put("a", std::move(a), 0, cache.generation());
  cache.put("b", lookUp(tree, "/b"), 4000, cache.generation());
  CHECK(cache.find("b", 5000) == nullptr);  // past b's validity: looked up again
  CHECK(cache.size() == 1);                 // and a, unused for 5 s, is gone
  CHECK_FALSE(isOpen(a_fd));

  std::shared_ptr<const OpenFile> in_use = lookUp(tree, "/a");
  uint64_t generation = cache.generation();
  cache.put("a", in_use, 5000, generation);
  cache.clear();
  CHECK(cache.size() == 0);
  CHECK(isOpen(in_use->version(Coding::kIdentity).fd.get()));  // a response still sends it
  cache.put("a", in_use, 5001, generation);  // a lookup begun before the clear: dropped
  CHECK(cache.size() == 0);
}

TEST_CASE("a file whose pages were read is read on the loop, within the pull") {
  TempTree tree;
  std::string content(100000, 'z');
  tree.file("big.bin", content);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    auto file = lookUp(tree, "/big.bin");
    REQUIRE(file->pages_read);
    FileResponse response(&loop, file, Coding::kIdentity, 10, content.size() - 10);
    auto region = response.fileRegion();
    REQUIRE(region);
    CHECK(region->in_page_cache);
    static_files_test::CollectSink sink;
    response.pull(sink, 16384);
    CHECK(sink.answers == 1);  // no loop turn needed
    CHECK(sink.out.pieces == 1);
    auto rest = drain(response, &loop, 16384);
    CHECK(sink.out.body + rest.body == content.substr(10));
    CHECK(rest.ended);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
