#include "common/http/output_queue.h"

#include "common/tls/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace http {

namespace {
// A write the kernel did not take at once: the remaining bytes, copied, with their request.
struct QueuedWrite {
  uv_write_t req;
  OutputListener* listener;
  std::string bytes;
};
}  // namespace

OutputQueue::OutputQueue(uv_stream_t* stream, OutputListener* listener)
    : stream_(stream), listener_(listener) {}

OutputStorage& OutputQueue::storage() {
  if (storage_ == nullptr) {
    if (!own_storage_) {
      own_storage_ = std::make_unique<OutputStorage>();
    }
    storage_ = own_storage_.get();
  }
  return *storage_;
}

void OutputQueue::addRef(const char* data, size_t len) {
  if (len == 0) {
    return;
  }
  storage().segments.push_back(OutputStorage::Segment{data, 0, len});
  pending_bytes_ += len;
}

void OutputQueue::addCopy(const char* data, size_t len) {
  if (len == 0) {
    return;
  }
  OutputStorage& st = storage();
  // Adjacent copies share one segment so a response head stays one buffer.
  if (!st.segments.empty() && st.segments.back().data == nullptr &&
      st.segments.back().offset + st.segments.back().len == st.scratch.size()) {
    st.segments.back().len += len;
  } else {
    st.segments.push_back(OutputStorage::Segment{nullptr, st.scratch.size(), len});
  }
  st.scratch.append(data, len);
  pending_bytes_ += len;
}

size_t formatChunkHeader(char (&buf)[24], size_t chunk_len) {
  return static_cast<size_t>(snprintf(buf, sizeof buf, "%zx\r\n", chunk_len));
}

void OutputQueue::addChunkRef(const char* data, size_t len) {
  char header[24];
  addCopy(header, formatChunkHeader(header, len));
  addRef(data, len);
  addCopy("\r\n", 2);
}

void OutputQueue::discard() {
  if (storage_ != nullptr) {
    storage_->segments.clear();
    storage_->scratch.clear();
  }
  pending_bytes_ = 0;
}

int OutputQueue::flush(bool more) {
  if (tls_ != nullptr) {
    return flushTls();
  }
  if (pending_bytes_ == 0) {
    return 0;
  }
  // Only used within this call, so one vector per thread serves every connection.
  thread_local std::vector<uv_buf_t> bufs;
  OutputStorage& st = storage();
  bufs.clear();
  for (const OutputStorage::Segment& s : st.segments) {
    const char* base = s.data != nullptr ? s.data : st.scratch.data() + s.offset;
    bufs.push_back(uv_buf_init(const_cast<char*>(base), static_cast<unsigned>(s.len)));
  }
  int r = write(bufs.data(), static_cast<unsigned>(bufs.size()), pending_bytes_, more);
  discard();
  return r;
}

int OutputQueue::flushTls() {
  if (pending_bytes_ > 0) {
    // Small pieces (a head, a chunk size line) are gathered into full records: one record
    // per piece would cost a header, a MAC and a cipher call each.
    constexpr size_t kRecord = 16 * 1024;
    thread_local std::string staging;
    staging.clear();
    OutputStorage& st = storage();
    auto encrypt = [this](const char* data, size_t len) { return tls_->encrypt(data, len); };
    bool ok = true;
    for (const OutputStorage::Segment& s : st.segments) {
      const char* base = s.data != nullptr ? s.data : st.scratch.data() + s.offset;
      if (s.len >= kRecord) {
        ok = ok && encrypt(staging.data(), staging.size()) && encrypt(base, s.len);
        staging.clear();
      } else {
        staging.append(base, s.len);
        if (staging.size() >= kRecord) {
          ok = ok && encrypt(staging.data(), staging.size());
          staging.clear();
        }
      }
    }
    ok = ok && encrypt(staging.data(), staging.size());
    discard();
    if (!ok) {
      return UV_EPROTO;
    }
  }
  std::string_view records = tls_->records();
  if (records.empty()) {
    return 0;
  }
  uv_buf_t buf = uv_buf_init(const_cast<char*>(records.data()),
                             static_cast<unsigned>(records.size()));
  int r = write(&buf, 1, records.size());  // what the kernel does not take is copied
  tls_->clearRecords();
  return r;
}

int OutputQueue::sendMore(const uv_buf_t* bufs, unsigned count) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(stream_), &fd) != 0) {
    return UV_EBADF;
  }
  msghdr msg{};
  msg.msg_iov = reinterpret_cast<iovec*>(const_cast<uv_buf_t*>(bufs));  // same layout on Unix
  msg.msg_iovlen = count;
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_MORE | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : static_cast<int>(n);
}

int OutputQueue::write(const uv_buf_t* bufs, unsigned count, size_t total, bool more) {
  size_t written = 0;
  // Straight to the socket only with nothing queued: libuv's own writes go first.
  int r = more && stream_->write_queue_size == 0 && stream_->type == UV_TCP
              ? sendMore(bufs, count)
              : uv_try_write(stream_, bufs, count);
  if (r >= 0) {
    written = static_cast<size_t>(r);
  } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
    return r;
  }
  if (written == total) {
    return 0;
  }
  // Copy what is left: the referenced bytes live in a read buffer that is about to be reused.
  auto* w = new QueuedWrite;
  w->listener = listener_;
  w->bytes.reserve(total - written);
  size_t skip = written;
  for (unsigned i = 0; i < count; ++i) {
    const uv_buf_t& b = bufs[i];
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    w->bytes.append(b.base + skip, b.len - skip);
    skip = 0;
  }
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int wr = uv_write(&w->req, stream_, &buf, 1, &OutputQueue::onWrite);
  if (wr < 0) {
    delete w;
    return wr;
  }
  return 0;
}

void OutputQueue::onWrite(uv_write_t* req, int status) {
  auto* w = static_cast<QueuedWrite*>(req->data);
  OutputListener* listener = w->listener;
  uv_stream_t* stream = req->handle;
  delete w;
  if (status == UV_ECANCELED) {
    return;  // The handle is closing; its owner no longer listens.
  }
  if (status < 0) {
    listener->onOutputError(status);
    return;
  }
  if (stream->write_queue_size <= kLowWater) {
    listener->onOutputDrained();
  }
}

}  // namespace http
