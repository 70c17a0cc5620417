#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "balancer/static_files/file_descriptor.h"

namespace balancer::static_files {

// A URL path's segments, percent-decoded once. Returns false (a 400) when the path does not
// start with '/', has a '%' without two hex digits, or a segment that decodes to "." or
// "..", or holds a NUL, a '/' (an encoded slash would join two segments into a path) or a
// '\\'. Empty segments ("//") are dropped. *trailing_slash: the path ends with '/'.
bool decodePathSegments(std::string_view url_path, std::vector<std::string>* segments,
                        bool* trailing_slash);

// A file found under a root: open for reading, with what fstat said and its directory (open,
// so a precompressed sibling is looked up beside it without walking the path again).
struct ResolvedFile {
  enum class Outcome {
    kFile,      // `file` is a regular file
    kBadPath,   // 400: decodePathSegments refused the path
    kNotFound,  // 404: missing, not a regular file, a symlink on the way, no index
    kAddSlash,  // 301: a directory asked for without its trailing slash
  };
  Outcome outcome = Outcome::kNotFound;
  FileDescriptor file;
  FileDescriptor directory;
  struct stat stat {};
  std::string name;  // the file's own name ("index.html" for a directory's index)
};

// Opens `url_path` under `root`, never outside it: the path is decoded and checked by
// decodePathSegments, then opened one component at a time with openat and O_NOFOLLOW, so a
// symlink anywhere below the root (inside or leaving it) is refused as not found, as nginx's
// `disable_symlinks on` does; the root itself may be a symlink. A directory is answered with
// its `index` file, never listed. It blocks on the disk: the static filter calls it on the
// thread pool.
ResolvedFile resolveUnderRoot(const std::string& root, std::string_view url_path,
                              const std::string& index);

// Opens `name` in `directory` if it is a regular file (not through a symlink); else invalid.
FileDescriptor openRegularFile(int directory, const std::string& name, struct stat* st);

}  // namespace balancer::static_files
