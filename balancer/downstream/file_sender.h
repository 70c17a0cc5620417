#pragma once

#include <uv.h>

#include <cstdint>

namespace balancer {

// Sends a region of a file to a plain TCP client with sendfile(2): the bytes go from the page
// cache to the socket without passing through the balancer's buffers.
//
// Why sendfile runs on libuv's thread pool (uv_queue_work) and not on the loop: it reads the
// file as it sends, and a file not in the page cache would make a call on the loop wait for
// the disk, stalling every connection of the worker; on the pool it stalls only that call.
// A region whose pages were just read (FileRegion::in_page_cache) is sent on the loop, as
// nginx does with every file: the session tries sendNow() first, and a sender started
// `on_loop` waits for room and sends the rest there too, saving two thread hand-offs per call.
// The socket stays non-blocking, so a call sends what the socket buffer takes and returns at
// once; when it takes nothing (EAGAIN) the sender waits for the socket to become writable,
// watched by a uv_poll on its own duplicate of the socket's descriptor (libuv watches a
// descriptor once, and the session's uv_tcp_t has the original), and sends again. Nothing is
// buffered in the balancer and a slow client holds only the sender: the backpressure is the
// kernel's socket buffer. Both descriptors are duplicates owned by the sender, so a session or
// a response closing while a call runs on the pool cannot let a reused descriptor number get
// the bytes. Not uv_fs_sendfile: libuv 1.44 (Debian 12) tries copy_file_range first, takes its
// EINVAL on a socket for a failure and falls back to reading and writing 8 KiB at a time,
// waiting in poll() on the pool thread when the socket is full.
class FileSender {
 public:
  class Listener {
   public:
    // The socket is full: the sender waits for the client to read (a timer may watch it).
    virtual void onFileWaiting() = 0;
    // The region is sent (`ok`), or could not be (a failed call, a file shorter than the
    // region): `sent` bytes of it went out. The sender frees itself after this call.
    virtual void onFileSent(uint64_t sent, bool ok) = 0;

   protected:
    ~Listener() = default;
  };

  // One sendfile(2) call on the calling thread: bytes sent, or -errno (-EAGAIN: the socket
  // is full). 0: the file ends before the region does.
  static ssize_t sendNow(int socket_fd, int file_fd, uint64_t offset, uint64_t length);
  // Starts sending `length` bytes of `file_fd` from `offset` to `socket_fd`; null when it
  // cannot (out of descriptors): the caller sends the bytes itself. `on_loop`: the pages are
  // in the page cache and the socket was just found full: it waits for room, then sends on
  // the loop. `sent_before`: bytes of the body the caller sent already (counted in onFileSent).
  static FileSender* start(uv_loop_t* loop, int socket_fd, int file_fd, uint64_t offset,
                           uint64_t length, Listener* listener, bool on_loop = false,
                           uint64_t sent_before = 0);
  // The listener goes away (the connection closed): no more calls to it; the sender frees
  // itself once a call on the pool is back.
  void cancel();

  FileSender(const FileSender&) = delete;
  FileSender& operator=(const FileSender&) = delete;

 private:
  FileSender() = default;
  ~FileSender() = default;

  // Hands the rest to sendfile on the pool; false if libuv refused it.
  bool send();
  void finish(bool ok);
  // Stops watching, closes the poll handle, then the descriptors, then frees this.
  void destroy();
  static void work(uv_work_t* req);  // on a pool thread: one sendfile(2) call
  static void onSent(uv_work_t* req, int status);
  // A call's result: done, failed, or wait for room and send again.
  void onResult(ssize_t result);
  // Waits for the socket to take more; false if libuv refused.
  bool waitWritable();
  static void onWritable(uv_poll_t* handle, int status, int events);
  static void onPollClosed(uv_handle_t* handle);

  uv_loop_t* loop_ = nullptr;
  uv_work_t req_{};
  ssize_t result_ = 0;  // the call's: bytes sent, or -errno
  uv_poll_t poll_{};
  int socket_ = -1;
  int file_ = -1;
  uint64_t offset_ = 0;
  uint64_t remaining_ = 0;
  uint64_t sent_ = 0;
  Listener* listener_ = nullptr;
  bool on_loop_ = false;    // calls run on the loop (the pages are in the page cache)
  bool in_flight_ = false;  // a sendfile call is on the pool
  bool cancelled_ = false;
};

}  // namespace balancer
