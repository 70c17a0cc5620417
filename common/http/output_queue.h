#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tls {
class Connection;
}

namespace http {

// Told when a queued write finished or failed.
class OutputListener {
 public:
  // The socket's queue fell to the low-water mark (or empty): the producer may resume.
  virtual void onOutputDrained() = 0;
  virtual void onOutputError(int status) = 0;

 protected:
  ~OutputListener() = default;
};

// What an OutputQueue gathers before a flush. Lent by the owner while it writes, so an idle
// connection holds none (see OutputQueue::attachStorage).
struct OutputStorage {
  struct Segment {
    const char* data;  // nullptr: the bytes are in scratch at offset
    size_t offset;
    size_t len;
  };
  std::vector<Segment> segments;
  std::string scratch;
};

// Writes the size line of a chunk ("1f40\r\n") into buf; returns its length.
size_t formatChunkHeader(char (&buf)[24], size_t chunk_len);

// Gathers what one pass over an input buffer produces for one socket and sends it with a
// single uv_try_write of several buffers. Only what the kernel does not take is copied and
// queued with uv_write; the producer is expected to pause while queuedBytes() is above
// kHighWater, which is how backpressure bounds memory.
class OutputQueue {
 public:
  static constexpr size_t kHighWater = 256 * 1024;
  static constexpr size_t kLowWater = 64 * 1024;

  OutputQueue(uv_stream_t* stream, OutputListener* listener);
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  // Lends storage; without one the queue allocates its own when first used. Detach only when
  // empty().
  void attachStorage(OutputStorage* storage) { storage_ = storage; }
  void detachStorage() { storage_ = nullptr; }

  // From now on what is added is encrypted through `tls` and the records go to the socket;
  // flush() also sends the records the connection made by itself (handshake, alerts).
  void setTls(tls::Connection* tls) { tls_ = tls; }

  // Adds bytes owned by the caller; they must stay valid until flush().
  void addRef(const char* data, size_t len);
  // Adds a copy of the bytes.
  void addCopy(const char* data, size_t len);
  void addCopy(std::string_view s) { addCopy(s.data(), s.size()); }
  // Adds one chunk of a chunked body: its size line, the bytes by reference, and CRLF.
  void addChunkRef(const char* data, size_t len);
  bool empty() const { return pending_bytes_ == 0; }
  size_t pendingBytes() const { return pending_bytes_; }

  // Sends what was added. Returns 0 or a libuv error code (the connection is then broken).
  // `more`: more bytes follow at once by other means (a file's, with sendfile), so on plain
  // TCP the kernel holds these for the same segment (MSG_MORE): a head and its body go out
  // as one packet, not two.
  int flush(bool more = false);
  // Drops what was added and not yet flushed.
  void discard();

  size_t queuedBytes() const { return stream_->write_queue_size; }
  bool aboveHighWater() const { return queuedBytes() > kHighWater; }

 private:
  static void onWrite(uv_write_t* req, int status);
  OutputStorage& storage();
  // Writes what the kernel takes now and queues a copy of the rest.
  int write(const uv_buf_t* bufs, unsigned count, size_t total, bool more = false);
  // sendmsg(MSG_MORE) of the buffers straight to the socket: bytes sent, or a libuv error.
  int sendMore(const uv_buf_t* bufs, unsigned count);
  int flushTls();

  uv_stream_t* stream_;
  OutputListener* listener_;
  OutputStorage* storage_ = nullptr;
  std::unique_ptr<OutputStorage> own_storage_;
  tls::Connection* tls_ = nullptr;
  size_t pending_bytes_ = 0;
};

}  // namespace http
