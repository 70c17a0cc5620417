#include "balancer/static_files/path_resolver.h"

#include <fcntl.h>

#include "common/http/query.h"

namespace balancer::static_files {

namespace {

constexpr int kDirectoryFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// O_NONBLOCK: opening a FIFO someone left in the root must not hang the loop.
constexpr int kFileFlags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

}  // namespace

bool decodePathSegments(std::string_view url_path, std::vector<std::string>* segments,
                        bool* trailing_slash) {
  segments->clear();
  *trailing_slash = false;
  if (url_path.empty() || url_path.front() != '/') {
    return false;
  }
  std::string segment;
  auto finish = [&]() {
    if (segment == "." || segment == "..") {
      return false;
    }
    if (!segment.empty()) {
      segments->push_back(std::move(segment));
    }
    segment.clear();
    return true;
  };
  for (size_t i = 1; i < url_path.size(); ++i) {
    char c = url_path[i];
    if (c == '/') {
      if (!finish()) {
        return false;
      }
      continue;
    }
    if (c == '%') {
      int hi = i + 2 < url_path.size() ? http::hexValue(url_path[i + 1]) : -1;
      int lo = i + 2 < url_path.size() ? http::hexValue(url_path[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return false;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      if (c == '/') {
        return false;  // an encoded slash: one segment that would name a path
      }
    }
    if (c == '\0' || c == '\\') {
      return false;
    }
    segment.push_back(c);
  }
  *trailing_slash = url_path.size() > 1 && url_path.back() == '/';
  return finish();
}

FileDescriptor openRegularFile(int directory, const std::string& name, struct stat* st) {
  FileDescriptor fd(openat(directory, name.c_str(), kFileFlags));
  if (!fd.valid() || fstat(fd.get(), st) != 0 || !S_ISREG(st->st_mode)) {
    return FileDescriptor();
  }
  return fd;
}

ResolvedFile resolveUnderRoot(const std::string& root, std::string_view url_path,
                              const std::string& index) {
  ResolvedFile out;
  std::vector<std::string> segments;
  bool trailing_slash = false;
  if (!decodePathSegments(url_path, &segments, &trailing_slash)) {
    out.outcome = ResolvedFile::Outcome::kBadPath;
    return out;
  }
  FileDescriptor directory(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!directory.valid()) {
    return out;
  }
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    FileDescriptor next(openat(directory.get(), segments[i].c_str(), kDirectoryFlags));
    if (!next.valid()) {
      return out;  // missing, a file, or a symlink (ELOOP under O_NOFOLLOW)
    }
    directory = std::move(next);
  }
  if (!segments.empty()) {
    // The last component: a file, or a directory to look for the index in.
    FileDescriptor last(openat(directory.get(), segments.back().c_str(), kFileFlags));
    struct stat st {};
    if (!last.valid() || fstat(last.get(), &st) != 0) {
      return out;
    }
    if (S_ISREG(st.st_mode)) {
      if (trailing_slash) {
        return out;  // "file.txt/" names a directory that is not there
      }
      out.outcome = ResolvedFile::Outcome::kFile;
      out.file = std::move(last);
      out.directory = std::move(directory);
      out.stat = st;
      out.name = segments.back();
      return out;
    }
    if (!S_ISDIR(st.st_mode)) {
      return out;  // a FIFO, socket or device is not served
    }
    if (!trailing_slash) {
      out.outcome = ResolvedFile::Outcome::kAddSlash;
      return out;
    }
    directory = std::move(last);
  }
  out.file = openRegularFile(directory.get(), index, &out.stat);
  if (out.file.valid()) {
    out.outcome = ResolvedFile::Outcome::kFile;
    out.directory = std::move(directory);
    out.name = index;
  }
  return out;
}

}  // namespace balancer::static_files
