#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

#include "balancer/filters/filter.h"
#include "balancer/static_files/open_file.h"

namespace balancer::static_files {

// A file's bytes [offset, offset + length) as a local response, read on libuv's thread pool
// (uv_fs_read) so a slow disk never stalls the worker's loop, or on the loop (pread) when the
// lookup that found the file has just read its pages (OpenFile::pages_read). Each pull reads
// at most `max` bytes at the next offset. A file it owns is closed (uv_fs_close) when the
// response is dropped; dropped with a read in flight, the read's own state (buffer,
// descriptor) lives on until its callback, which then closes the file and frees it without
// calling the sink.
class FileResponse final : public filters::LocalResponse {
 public:
  // Takes ownership of `fd`. `status`, `headers` and `content_length` are the caller's to set.
  FileResponse(uv_loop_t* loop, int fd, uint64_t offset, uint64_t length);
  // One version of a file the worker's OpenFileCache may share: `file` keeps it open.
  FileResponse(uv_loop_t* loop, std::shared_ptr<const OpenFile> file, Coding coding,
               uint64_t offset, uint64_t length);
  ~FileResponse() override;
  FileResponse(const FileResponse&) = delete;
  FileResponse& operator=(const FileResponse&) = delete;

  void pull(filters::LocalBodySink& sink, size_t max) override;
  std::optional<filters::FileRegion> fileRegion() const override;

 private:
  struct Reader;
  Reader* reader_;  // freed here, or by a read in flight's callback
};

// A local response with its whole body in memory (a 301's, or none for a 304).
class BufferedResponse final : public filters::LocalResponse {
 public:
  explicit BufferedResponse(std::string body = {}) : body_(std::move(body)) {
    content_length = body_.size();
  }
  void pull(filters::LocalBodySink& sink, size_t max) override;

 private:
  std::string body_;
  size_t sent_ = 0;
};

}  // namespace balancer::static_files
