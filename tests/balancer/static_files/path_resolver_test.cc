#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "balancer/static_files/path_resolver.h"
#include "temp_tree.h"

using balancer::static_files::decodePathSegments;
using balancer::static_files::resolveUnderRoot;
using balancer::static_files::ResolvedFile;
using Outcome = balancer::static_files::ResolvedFile::Outcome;
using static_files_test::TempTree;

namespace {

std::vector<std::string> segmentsOf(std::string_view path, bool* ok, bool* trailing = nullptr) {
  std::vector<std::string> segments;
  bool slash = false;
  *ok = decodePathSegments(path, &segments, &slash);
  if (trailing != nullptr) {
    *trailing = slash;
  }
  return segments;
}

// The file's content as the resolver opened it.
std::string contentOf(const ResolvedFile& f) {
  std::string out(static_cast<size_t>(f.stat.st_size), '\0');
  REQUIRE(pread(f.file.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  return out;
}

}  // namespace

TEST_CASE("paths decode once into segments") {
  bool ok = false;
  bool trailing = false;
  CHECK(segmentsOf("/a/b.txt", &ok, &trailing) == std::vector<std::string>{"a", "b.txt"});
  CHECK(ok);
  CHECK_FALSE(trailing);
  CHECK(segmentsOf("/a//b/", &ok, &trailing) == std::vector<std::string>{"a", "b"});
  CHECK(ok);
  CHECK(trailing);
  CHECK(segmentsOf("/", &ok, &trailing).empty());
  CHECK(ok);
  CHECK(segmentsOf("/a%20b", &ok) == std::vector<std::string>{"a b"});
  CHECK(ok);
  // Double encoding decodes once: "%252e" is the three characters "%2e", not a dot.
  CHECK(segmentsOf("/%252e%252e/x", &ok) == std::vector<std::string>{"%2e%2e", "x"});
  CHECK(ok);
}

TEST_CASE("paths that could leave the root or name no file are refused") {
  for (const char* path : {"/../x", "/a/../../x", "/%2e%2e/x", "/%2E%2E", "/a/%2e/b", "/.",
                           "/a%2Fb", "/a%2f..%2fb", "/a%00b", "/a%5Cb", "/a%5c..%5cb",
                           "/a\\b", "/a%", "/a%2", "/a%zz", "relative", ""}) {
    INFO(path);
    bool ok = true;
    segmentsOf(path, &ok);
    CHECK_FALSE(ok);
  }
}

TEST_CASE("a file under the root is opened, nested or not") {
  TempTree tree;
  tree.file("a.txt", "hello");
  tree.file("sub/deeper/b.css", "body{}");
  ResolvedFile a = resolveUnderRoot(tree.root(), "/a.txt", "index.html");
  REQUIRE(a.outcome == Outcome::kFile);
  CHECK(contentOf(a) == "hello");
  CHECK(a.name == "a.txt");
  ResolvedFile b = resolveUnderRoot(tree.root(), "/sub//deeper/b.css", "index.html");
  REQUIRE(b.outcome == Outcome::kFile);
  CHECK(contentOf(b) == "body{}");
  CHECK(resolveUnderRoot(tree.root(), "/missing", "index.html").outcome == Outcome::kNotFound);
  CHECK(resolveUnderRoot(tree.root(), "/a.txt/", "index.html").outcome == Outcome::kNotFound);
  CHECK(resolveUnderRoot(tree.root(), "/a.txt/x", "index.html").outcome == Outcome::kNotFound);
  CHECK(resolveUnderRoot(tree.root(), "/%2e%2e/x", "index.html").outcome == Outcome::kBadPath);
  CHECK(resolveUnderRoot("/nonexistent-root", "/a.txt", "index.html").outcome ==
        Outcome::kNotFound);
}

TEST_CASE("folders: the index with a trailing slash, a redirect without, never a listing") {
  TempTree tree;
  tree.file("index.html", "root index");
  tree.file("docs/index.html", "docs index");
  tree.file("empty/readme.txt", "no index here");
  ResolvedFile root = resolveUnderRoot(tree.root(), "/", "index.html");
  REQUIRE(root.outcome == Outcome::kFile);
  CHECK(contentOf(root) == "root index");
  ResolvedFile docs = resolveUnderRoot(tree.root(), "/docs/", "index.html");
  REQUIRE(docs.outcome == Outcome::kFile);
  CHECK(contentOf(docs) == "docs index");
  CHECK(docs.name == "index.html");
  CHECK(resolveUnderRoot(tree.root(), "/docs", "index.html").outcome == Outcome::kAddSlash);
  CHECK(resolveUnderRoot(tree.root(), "/empty/", "index.html").outcome == Outcome::kNotFound);
  CHECK(resolveUnderRoot(tree.root(), "/docs/", "other.html").outcome == Outcome::kNotFound);
}

TEST_CASE("symlinks below the root are refused, wherever they point") {
  TempTree tree;
  tree.file("real.txt", "inside");
  tree.file("dir/f.txt", "in dir");
  {
    std::ofstream(tree.outside() + "/secret.txt") << "outside";
  }
  tree.symlink(tree.outside() + "/secret.txt", "leak.txt");
  tree.symlink("../secret.txt", "relative-leak.txt");
  tree.symlink(tree.outside(), "up");
  tree.symlink("real.txt", "alias.txt");
  tree.symlink("dir", "dirlink");
  for (const char* path : {"/leak.txt", "/relative-leak.txt", "/up/secret.txt", "/up/",
                           "/alias.txt", "/dirlink/f.txt", "/dirlink/"}) {
    INFO(path);
    CHECK(resolveUnderRoot(tree.root(), path, "index.html").outcome == Outcome::kNotFound);
  }
  // The index is not followed through a symlink either.
  tree.symlink(tree.outside() + "/secret.txt", "dir/index.html");
  CHECK(resolveUnderRoot(tree.root(), "/dir/", "index.html").outcome == Outcome::kNotFound);
}

TEST_CASE("the configured root may itself be a symlink") {
  TempTree tree;
  tree.file("a.txt", "via link");
  std::string link = tree.outside() + "/current";
  REQUIRE(::symlink(tree.root().c_str(), link.c_str()) == 0);
  ResolvedFile a = resolveUnderRoot(link, "/a.txt", "index.html");
  REQUIRE(a.outcome == Outcome::kFile);
  CHECK(contentOf(a) == "via link");
}

TEST_CASE("a FIFO under the root is not opened (it would block) nor served") {
  TempTree tree;
  REQUIRE(mkfifo((tree.root() + "/pipe").c_str(), 0600) == 0);
  CHECK(resolveUnderRoot(tree.root(), "/pipe", "index.html").outcome == Outcome::kNotFound);
}
