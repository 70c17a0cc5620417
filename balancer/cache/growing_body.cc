#include "balancer/cache/growing_body.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace balancer::cache {

namespace {

std::atomic<int> file_bodies{0};  // bodies in a memfd, in every zone

}  // namespace

GrowingBody::~GrowingBody() {
  if (file_ >= 0) {
    munmap(chunks_.front().data, chunks_.front().capacity);
    ::close(file_);
    file_bodies.fetch_sub(1);
  }
}

bool GrowingBody::addFileChunk(size_t size) {
  if (file_bodies.fetch_add(1) >= kMaxFiles) {
    file_bodies.fetch_sub(1);
    return false;
  }
  int fd = memfd_create("balancer-cached-body", MFD_CLOEXEC);
  void* map = MAP_FAILED;
  if (fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) == 0) {
    map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (map == MAP_FAILED) {
    if (fd >= 0) {
      ::close(fd);
    }
    file_bodies.fetch_sub(1);
    return false;
  }
  file_ = fd;
  chunks_.push_back({nullptr, static_cast<char*>(map), size_, size});
  held_bytes_ += size;
  return true;
}

int GrowingBody::file() const {
  std::lock_guard<std::mutex> lock(mu_);
  bool whole = state_ == State::kComplete && chunks_.size() == 1 && size_ == chunks_[0].capacity;
  return file_ >= 0 && whole ? file_ : -1;
}

void GrowingBody::append(std::string_view bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ != State::kGrowing) {
    return;
  }
  while (!bytes.empty()) {
    if (chunks_.empty() || size_ == chunks_.back().start + chunks_.back().capacity) {
      addChunk(bytes.size());
    }
    Chunk& last = chunks_.back();
    const size_t used = static_cast<size_t>(size_ - last.start);
    const size_t n = std::min(bytes.size(), last.capacity - used);
    std::memcpy(last.data + used, bytes.data(), n);
    size_ += n;
    bytes.remove_prefix(n);
  }
  wakeReady(lock);
}

void GrowingBody::addChunk(size_t at_least) {
  if (chunks_.empty() && hint_ && *hint_ >= kFileMin && *hint_ <= kFileMax &&
      addFileChunk(static_cast<size_t>(*hint_))) {
    return;
  }
  size_t capacity = 0;
  if (hint_ && *hint_ > size_) {
    capacity = static_cast<size_t>(std::min<uint64_t>(*hint_ - size_, kChunkBytes));
  } else {
    capacity = chunks_.empty() ? kFirstChunkBytes : chunks_.back().capacity * 2;
  }
  capacity = std::max(capacity, std::min(at_least, kChunkBytes));
  capacity = std::min(capacity, kChunkBytes);
  // Allocated under the lock: a reader may be indexing chunks_ at the same time.
  auto bytes = std::make_unique<char[]>(capacity);
  char* data = bytes.get();
  chunks_.push_back({std::move(bytes), data, size_, capacity});
  held_bytes_ += capacity;
}

void GrowingBody::finish() {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == State::kGrowing) {
    state_ = State::kComplete;
  }
  wakeReady(lock);
}

void GrowingBody::fail() {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == State::kGrowing) {
    state_ = State::kFailed;
  }
  wakeReady(lock);
}

void GrowingBody::wakeReady(std::unique_lock<std::mutex>& lock) {
  std::vector<Wake> ready;
  auto it = std::remove_if(waiters_.begin(), waiters_.end(), [&](Waiter& w) {
    if (w.offset < size_ || state_ != State::kGrowing) {
      ready.push_back(std::move(w.wake));
      return true;
    }
    return false;
  });
  waiters_.erase(it, waiters_.end());
  lock.unlock();  // a wake-up may take another lock (a loop's queue): never under ours
  for (Wake& wake : ready) {
    wake();
  }
}

std::string_view GrowingBody::read(uint64_t offset, size_t max) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset >= size_) {
    return {};
  }
  // The last chunk whose start is at or before the offset.
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), offset,
                             [](uint64_t off, const Chunk& c) { return off < c.start; });
  const Chunk& chunk = *(it - 1);
  const size_t in_chunk = static_cast<size_t>(offset - chunk.start);
  const uint64_t filled = std::min<uint64_t>(chunk.capacity, size_ - chunk.start);
  const size_t n = static_cast<size_t>(std::min<uint64_t>(max, filled - in_chunk));
  return {chunk.data + in_chunk, n};
}

uint64_t GrowingBody::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

GrowingBody::State GrowingBody::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

uint64_t GrowingBody::waitBeyond(uint64_t offset, Wake wake) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset < size_ || state_ != State::kGrowing) {
    return 0;
  }
  uint64_t ticket = next_ticket_++;
  waiters_.push_back({ticket, offset, std::move(wake)});
  return ticket;
}

void GrowingBody::cancelWait(uint64_t ticket) const {
  Wake dropped;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->ticket == ticket) {
      dropped = std::move(it->wake);
      waiters_.erase(it);
      return;
    }
  }
}

size_t GrowingBody::capacityBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_bytes_;
}

}  // namespace balancer::cache
