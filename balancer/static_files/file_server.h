#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "balancer/filters/filter.h"
#include "balancer/static_files/mime_types.h"
#include "balancer/static_files/open_file.h"
#include "balancer/static_files/path_resolver.h"
#include "common/http/conditional.h"

namespace balancer::static_files {

// What a FileServer needs of a request, copied out of it: the answer may be worked out on the
// thread pool, where the request's own buffers may be gone (the client left).
struct FileRequest {
  std::string method;
  std::string path;   // normalized, as the router matched it
  std::string query;  // with its '?', or empty
  bool path_invalid = false;
  std::optional<std::string> accept_encoding;
  std::optional<std::string> range;
  std::optional<std::string> if_range;
  http::Preconditions preconditions;

  static FileRequest from(const filters::RequestFacts& request);
};

// What a lookup under the root found: a file (with its siblings), or why not.
struct FileLookup {
  ResolvedFile::Outcome outcome = ResolvedFile::Outcome::kNotFound;
  std::shared_ptr<const OpenFile> file;  // kFile
};

// What a static route answers, decided from the request alone: the file under the root (or
// the folder's index), with its content type, validators (ETag, Last-Modified; 304, 412),
// a byte range (206, 416) and a precompressed sibling (.zst, .br, .gz) when the client
// accepts its coding. Shared by every worker; keeps no state between requests (a worker's
// OpenFileCache keeps its lookups).
//
// serve() does it all at once; the static filter does it in three steps, so that only the
// one that may wait on the disk, lookUp(), goes to the thread pool, and only when the
// worker's OpenFileCache has no fresh lookup of the path.
class FileServer {
 public:
  // `root` and `index` as validated by the config; `strip_prefix` is removed from the
  // request's path before it is looked up under the root.
  FileServer(std::string root, std::string index, std::string strip_prefix,
             const MimeTypes& types = MimeTypes::system());

  // The answer to `request`, whose body, if a file's, is read on `loop`. It opens files and
  // reads their metadata, so it may block: the filter runs it on the thread pool.
  // - respond: 200 or 206 with the file (a FileResponse; HEAD: its head only), 304, or 301
  //   to the folder's URL with its trailing slash (as nginx does) and the query kept;
  // - reply: 400 for a path that would leave the root or cannot be a file name (an encoded
  //   '/', '\\' or NUL), 404 for a missing file, a symlink or a folder without its index,
  //   405 for other methods, 412 for a failed If-Match or If-Unmodified-Since, 416 with
  //   Content-Range: bytes */LENGTH for an unsatisfiable range.
  filters::Verdict serve(const FileRequest& request, uv_loop_t* loop) const;

  // Step 1, no I/O: the path under the root that `request` names (true), or the answer
  // (405, 400, 301) when it names none.
  bool locate(const FileRequest& request, std::string* path, filters::Verdict* answer) const;
  // The key of `path`'s lookup in an OpenFileCache shared by every static route of a worker.
  std::string cacheKey(std::string_view path) const;
  // Step 2, blocking (the thread pool): opens the file `path` names, and its siblings.
  FileLookup lookUp(std::string_view path) const;
  // Step 3, no I/O but the file's reads: the answer to `request` from what lookUp found.
  filters::Verdict answer(const FileRequest& request, const FileLookup& found,
                          uv_loop_t* loop) const;

 private:
  std::string root_;
  std::string index_;
  std::string strip_prefix_;
  const MimeTypes& types_;
};

}  // namespace balancer::static_files
