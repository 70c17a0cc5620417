#include "balancer/static_files/open_file.h"

#include <unistd.h>

#include <cerrno>

namespace balancer::static_files {

namespace {

bool sameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Reads the file through once, so its pages are in the page cache when it is sent. False
// when a read fails or ends early.
bool readPages(int fd, uint64_t size) {
  static thread_local char scratch[64 * 1024];
  uint64_t offset = 0;
  while (offset < size) {
    ssize_t n = pread(fd, scratch, sizeof(scratch), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

bool OpenFile::unchanged() const {
  for (const Version& v : versions) {
    struct stat now {};
    if (v.fd.valid() &&
        (fstat(v.fd.get(), &now) != 0 || now.st_nlink == 0 || !sameFile(now, v.stat))) {
      return false;
    }
  }
  return true;
}

std::shared_ptr<const OpenFile> openWithSiblings(ResolvedFile found) {
  auto file = std::make_shared<OpenFile>();
  file->name = found.name;
  OpenFile::Version& identity = file->versions[static_cast<size_t>(Coding::kIdentity)];
  identity.fd = std::move(found.file);
  identity.stat = found.stat;
  for (Coding c : {Coding::kZstd, Coding::kBr, Coding::kGzip}) {
    OpenFile::Version& v = file->versions[static_cast<size_t>(c)];
    v.fd = openRegularFile(found.directory.get(), found.name + std::string(siblingSuffix(c)),
                           &v.stat);
  }
  bool small = true;
  for (const OpenFile::Version& v : file->versions) {
    small = small && (!v.fd.valid() || static_cast<uint64_t>(v.stat.st_size) <=
                                           OpenFile::kReadAheadMax);
  }
  if (small) {
    bool read = true;
    for (const OpenFile::Version& v : file->versions) {
      read = read && (!v.fd.valid() || readPages(v.fd.get(), static_cast<uint64_t>(v.stat.st_size)));
    }
    file->pages_read = read;
  }
  return file;
}

}  // namespace balancer::static_files
