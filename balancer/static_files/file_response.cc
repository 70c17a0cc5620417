#include "balancer/static_files/file_response.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

namespace balancer::static_files {

struct FileResponse::Reader {
  uv_loop_t* loop = nullptr;
  uv_file fd = -1;
  uint64_t offset = 0;
  uint64_t remaining = 0;
  uv_fs_t req{};
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  // The buffers a callback is handing to the sink when the sink pulls again: the new read
  // must not write into bytes the sink may still be copying. More than one when reads on the
  // loop answer within the pull, so a sink pulling from onBody nests deliveries.
  std::vector<std::unique_ptr<char[]>> handed_out;
  filters::LocalBodySink* sink = nullptr;
  // The cached file `fd` belongs to (not closed here), or null: `fd` is this reader's.
  std::shared_ptr<const OpenFile> shared;
  bool on_loop = false;       // the pages were just read: pread on the loop
  bool reading = false;       // a read is in flight
  bool in_callback = false;   // onRead is calling the sink
  bool orphaned = false;      // the response was dropped: clean up once idle

  bool idle() const { return !reading && !in_callback; }
  static void onRead(uv_fs_t* req);
  // Hands a read's result (bytes, or an error) to the sink.
  void deliver(ssize_t result);
  // Closes the file on the thread pool and frees this.
  void finish();
};

namespace {

void onClosed(uv_fs_t* req) {
  uv_fs_req_cleanup(req);
  delete req;
}

}  // namespace

void FileResponse::Reader::finish() {
  if (fd >= 0 && shared == nullptr) {
    auto* close = new uv_fs_t;
    if (uv_fs_close(loop, close, fd, onClosed) != 0) {
      delete close;
    }
  }
  delete this;
}

void FileResponse::Reader::onRead(uv_fs_t* req) {
  auto* self = static_cast<Reader*>(req->data);
  ssize_t result = req->result;
  uv_fs_req_cleanup(req);
  self->reading = false;
  if (self->orphaned) {
    self->finish();
    return;
  }
  self->deliver(result);
}

void FileResponse::Reader::deliver(ssize_t result) {
  bool outermost = !in_callback;
  in_callback = true;
  if (result <= 0) {
    // An error, or the file shrank below the length the head promised: the body cannot be
    // finished.
    sink->onFailed();
  } else {
    auto n = static_cast<uint64_t>(result);
    offset += n;
    remaining -= std::min(n, remaining);
    sink->onBody(std::string_view(buffer.get(), static_cast<size_t>(n)));
  }
  // The sink may have pulled again, or dropped the response (then this is freed once idle).
  if (!outermost) {
    return;
  }
  in_callback = false;
  handed_out.clear();
  if (orphaned && idle()) {
    finish();
  }
}

FileResponse::FileResponse(uv_loop_t* loop, int fd, uint64_t offset, uint64_t length)
    : reader_(new Reader) {
  reader_->loop = loop;
  reader_->fd = fd;
  reader_->offset = offset;
  reader_->remaining = length;
  content_length = length;
}

FileResponse::FileResponse(uv_loop_t* loop, std::shared_ptr<const OpenFile> file, Coding coding,
                           uint64_t offset, uint64_t length)
    : FileResponse(loop, file->version(coding).fd.get(), offset, length) {
  reader_->on_loop = file->pages_read;
  reader_->shared = std::move(file);
}

FileResponse::~FileResponse() {
  if (!reader_->idle()) {
    reader_->orphaned = true;  // the read's callback frees it
  } else {
    reader_->finish();
  }
}

std::optional<filters::FileRegion> FileResponse::fileRegion() const {
  const Reader& r = *reader_;
  if (r.fd < 0 || !r.idle() || r.capacity != 0) {
    return std::nullopt;  // pulled already: the rest goes the same way
  }
  return filters::FileRegion{r.fd, r.offset, r.remaining, r.on_loop};
}

void FileResponse::pull(filters::LocalBodySink& sink, size_t max) {
  Reader& r = *reader_;
  if (r.remaining == 0) {
    sink.onEnd();
    return;
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(max, 1), r.remaining));
  if (r.in_callback) {
    r.handed_out.push_back(std::move(r.buffer));
    r.capacity = 0;
  }
  if (want > r.capacity) {
    r.buffer = std::make_unique<char[]>(want);
    r.capacity = want;
  }
  r.sink = &sink;
  if (r.on_loop) {
    ssize_t n;
    do {
      n = pread(r.fd, r.buffer.get(), want, static_cast<off_t>(r.offset));
    } while (n < 0 && errno == EINTR);
    r.deliver(n);  // may free the reader (the sink dropped the response): nothing after it
    return;
  }
  r.reading = true;
  r.req.data = &r;
  uv_buf_t buf = uv_buf_init(r.buffer.get(), static_cast<unsigned>(want));
  int rc = uv_fs_read(r.loop, &r.req, r.fd, &buf, 1, static_cast<int64_t>(r.offset),
                      Reader::onRead);
  if (rc != 0) {
    r.reading = false;
    sink.onFailed();
  }
}

void BufferedResponse::pull(filters::LocalBodySink& sink, size_t max) {
  if (sent_ == body_.size()) {
    sink.onEnd();
    return;
  }
  size_t n = std::min(std::max<size_t>(max, 1), body_.size() - sent_);
  sent_ += n;
  sink.onBody(std::string_view(body_).substr(sent_ - n, n));
}

}  // namespace balancer::static_files
