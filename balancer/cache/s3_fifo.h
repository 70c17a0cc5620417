#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <unordered_map>

#include "balancer/cache/eviction_policy.h"

namespace balancer::cache {

// S3-FIFO (Yang et al., SOSP 2023): a small FIFO that new objects enter, a main FIFO for those
// read again while in the small one, and a ghost FIFO of recently evicted ids. A one-off scan
// passes through the small queue (10% of the bytes) and leaves; objects read often stay in the
// main queue, which reinserts an object read since its last pass instead of evicting it. A hit
// only bumps a 2-bit counter: no list is reordered.
class S3Fifo final : public EvictionPolicy {
 public:
  explicit S3Fifo(size_t capacity_bytes, double small_fraction = 0.1);
  std::string_view name() const override { return "s3-fifo"; }
  void insert(const ObjectId& id, size_t bytes) override;
  void touch(const ObjectId& id) override;
  void erase(const ObjectId& id) override;
  bool evict(ObjectId* victim) override;

 private:
  struct Node {
    ObjectId id;
    size_t bytes = 0;
    uint8_t freq = 0;
    bool main = false;
  };
  using Queue = std::list<Node>;  // newest at the front
  bool evictSmall(ObjectId* victim);
  bool evictMain(ObjectId* victim);
  void remember(const ObjectId& id);
  bool forgetGhost(const ObjectId& id);

  size_t small_target_;
  Queue small_;
  Queue main_;
  size_t small_bytes_ = 0;
  std::unordered_map<ObjectId, Queue::iterator, ObjectIdHash> where_;
  // Ids evicted from the small queue, as 64-bit fingerprints, bounded to as many as the
  // store holds objects: one seen again soon enters the main queue directly.
  std::deque<uint64_t> ghost_order_;
  std::unordered_map<uint64_t, uint32_t> ghost_;
};

}  // namespace balancer::cache
