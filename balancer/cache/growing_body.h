#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace balancer::cache {

// A response body that one writer (the miss filling the cache) appends to while any number of
// readers on other threads stream it: readers that join mid-fill read what is there, then
// wait for more. Bytes live in fixed-size chunks that never move once allocated, so a reader
// gets a view into a chunk without copying and without holding the lock while it writes to
// its client; bytes below size() never change. Chunks are sized to the announced length when
// there is one (a 27-byte body costs 27 bytes, not a chunk), else they start small and double.
//
// A body announced at kFileMin bytes or more is one chunk instead: the mapped pages of a memfd
// of that size, so that a hit over plain TCP can sendfile(2) it (file()). The kernel then
// hands the pages to the socket rather than copying every byte of every hit, which is what
// a large hit costs when written from memory. At most kMaxFiles bodies at once are kept so
// (each holds a descriptor); the others, and any body when memfd_create fails, use chunks.
class GrowingBody {
 public:
  static constexpr size_t kChunkBytes = 16 * 1024;  // the largest chunk
  static constexpr size_t kFirstChunkBytes = 1024;  // without a size hint
  static constexpr uint64_t kFileMin = 64 * 1024;
  static constexpr uint64_t kFileMax = 64 * 1024 * 1024;
  static constexpr int kMaxFiles = 1024;

  enum class State : uint8_t { kGrowing, kComplete, kFailed };

  // Called once, on the writer's thread, when a reader's wait is over (more bytes, the end, or
  // a failure). It must be safe to call from any thread: a worker posts to its own loop.
  using Wake = std::function<void()>;

  // `size_hint`: the Content-Length, when the response gave one.
  explicit GrowingBody(std::optional<uint64_t> size_hint = std::nullopt) : hint_(size_hint) {}
  ~GrowingBody();
  GrowingBody(const GrowingBody&) = delete;
  GrowingBody& operator=(const GrowingBody&) = delete;

  // Writer: appends bytes (copied), then wakes the readers waiting for them.
  void append(std::string_view bytes);
  // Writer: the body is whole / broke off. Wakes every waiting reader.
  void finish();
  void fail();

  // Readers: at most `max` bytes from `offset`, as a view that stays valid while this body is
  // alive; shorter than asked at a chunk's end or at the current size, empty at the end so far.
  std::string_view read(uint64_t offset, size_t max) const;
  uint64_t size() const;
  State state() const;

  // Registers `wake` to be called when the body has grown past `offset` or ended. Returns 0
  // when there is no need to wait (it already has) and `wake` is not kept; else a ticket for
  // cancelWait.
  uint64_t waitBeyond(uint64_t offset, Wake wake) const;
  // Drops a registered wake-up (a reader that went away). Safe if it already ran.
  void cancelWait(uint64_t ticket) const;

  // Bytes held, chunk slack included (what a store charges).
  size_t capacityBytes() const;

  // The memfd holding the whole body, byte 0 at offset 0, once it is complete; else -1. Valid
  // while this body is alive.
  int file() const;

 private:
  struct Waiter {
    uint64_t ticket;
    uint64_t offset;
    Wake wake;
  };
  struct Chunk {
    std::unique_ptr<char[]> bytes;  // null for the memfd's mapping
    char* data = nullptr;
    uint64_t start = 0;  // the body offset of its first byte
    size_t capacity = 0;
  };
  void wakeReady(std::unique_lock<std::mutex>& lock);
  void addChunk(size_t at_least);
  // The whole announced body as one chunk in a memfd; false (nothing changed) if it cannot.
  bool addFileChunk(size_t size);

  const std::optional<uint64_t> hint_;
  mutable std::mutex mu_;
  std::vector<Chunk> chunks_;
  size_t held_bytes_ = 0;
  uint64_t size_ = 0;
  State state_ = State::kGrowing;
  mutable std::vector<Waiter> waiters_;
  mutable uint64_t next_ticket_ = 1;
  int file_ = -1;  // the memfd behind chunks_[0], or -1
};

}  // namespace balancer::cache
