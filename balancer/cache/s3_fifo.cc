#include "balancer/cache/s3_fifo.h"

#include <algorithm>

#include "balancer/cache/lru.h"

namespace balancer::cache {

namespace {

constexpr uint8_t kMaxFreq = 3;

uint64_t fingerprint(const ObjectId& id) {
  return id.primary.lo ^ (id.secondary.hi * 0x9e3779b97f4a7c15ULL) ^ id.primary.hi;
}

}  // namespace

std::unique_ptr<EvictionPolicy> makeEvictionPolicy(EvictionKind kind, size_t capacity_bytes) {
  if (kind == EvictionKind::kLru) {
    return std::make_unique<Lru>();
  }
  return std::make_unique<S3Fifo>(capacity_bytes);
}

S3Fifo::S3Fifo(size_t capacity_bytes, double small_fraction)
    : small_target_(static_cast<size_t>(static_cast<double>(capacity_bytes) * small_fraction)) {}

void S3Fifo::insert(const ObjectId& id, size_t bytes) {
  const bool seen = forgetGhost(id);
  Queue& queue = seen ? main_ : small_;
  queue.push_front({id, bytes, 0, seen});
  where_[id] = queue.begin();
  if (!seen) {
    small_bytes_ += bytes;
  }
}

void S3Fifo::touch(const ObjectId& id) {
  auto it = where_.find(id);
  if (it != where_.end() && it->second->freq < kMaxFreq) {
    ++it->second->freq;
  }
}

void S3Fifo::erase(const ObjectId& id) {
  auto it = where_.find(id);
  if (it == where_.end()) {
    return;
  }
  if (it->second->main) {
    main_.erase(it->second);
  } else {
    small_bytes_ -= it->second->bytes;
    small_.erase(it->second);
  }
  where_.erase(it);
}

bool S3Fifo::evict(ObjectId* victim) {
  while (!small_.empty() || !main_.empty()) {
    // The small queue gives up objects while it is over its share (or main is empty).
    if (!small_.empty() && (small_bytes_ > small_target_ || main_.empty())) {
      if (evictSmall(victim)) {
        return true;
      }
    } else if (evictMain(victim)) {
      return true;
    }
  }
  return false;
}

bool S3Fifo::evictSmall(ObjectId* victim) {
  Node node = small_.back();
  small_.pop_back();
  small_bytes_ -= node.bytes;
  if (node.freq > 0) {
    // Read again while in the small queue: promoted, its count spent.
    node.freq = 0;
    node.main = true;
    main_.push_front(node);
    where_[node.id] = main_.begin();
    return false;
  }
  where_.erase(node.id);
  remember(node.id);
  *victim = node.id;
  return true;
}

bool S3Fifo::evictMain(ObjectId* victim) {
  Node& tail = main_.back();
  if (tail.freq > 0) {
    // Read since its last pass: another round, one count fewer (CLOCK-like).
    --tail.freq;
    main_.splice(main_.begin(), main_, std::prev(main_.end()));
    return false;
  }
  *victim = tail.id;
  where_.erase(tail.id);
  main_.pop_back();
  return true;
}

void S3Fifo::remember(const ObjectId& id) {
  const uint64_t fp = fingerprint(id);
  ++ghost_[fp];
  ghost_order_.push_back(fp);
  const size_t limit = std::max<size_t>(where_.size(), 16);
  while (ghost_order_.size() > limit) {
    auto it = ghost_.find(ghost_order_.front());
    if (it != ghost_.end() && --it->second == 0) {
      ghost_.erase(it);
    }
    ghost_order_.pop_front();
  }
}

bool S3Fifo::forgetGhost(const ObjectId& id) {
  auto it = ghost_.find(fingerprint(id));
  if (it == ghost_.end()) {
    return false;
  }
  ghost_.erase(it);  // its queue entries are dropped lazily (the map no longer has them)
  return true;
}

}  // namespace balancer::cache
