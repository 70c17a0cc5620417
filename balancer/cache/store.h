#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "balancer/cache/cached_object.h"
#include "balancer/cache/eviction_policy.h"

namespace balancer::cache {

// The config's `cache_zones: NAME: { memory, max_object }`.
struct StoreLimits {
  size_t memory = 256u << 20;
  size_t max_object = 8u << 20;
  EvictionKind eviction = EvictionKind::kS3Fifo;
  size_t shards = 16;  // fewer when memory / shards would be below max_object
};

// One zone's objects, shared by every worker thread. Sharded by primary key, each shard with
// its own lock, map, eviction policy and a slice of the byte budget; a lock is held only for
// map and policy operations, never while bytes are copied to a client or freed (evicted
// objects are released after the unlock). Objects are complete responses; a miss still
// filling is found through the FillTable instead.
class Store {
 public:
  explicit Store(const StoreLimits& limits);
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Computes a request's secondary key for a stored variant's Vary names.
  using SecondaryFor = std::function<Key(const std::vector<std::string>& vary)>;

  // The newest stored variant of `primary` whose Vary values match the request (its secondary
  // key equals secondary_for(its vary names)), counted as a hit for eviction; null on a miss.
  std::shared_ptr<const CachedObject> lookup(const Key& primary,
                                             const SecondaryFor& secondary_for);

  // Stores a complete object, replacing the variant with the same secondary key; evicts until
  // the shard is within budget. False (nothing stored) when the object is above max_object.
  bool insert(std::shared_ptr<const CachedObject> object);

  // Replaces a stored object's head after a 304 (same body): a no-op if it has left meanwhile.
  bool refresh(const std::shared_ptr<const CachedObject>& old_object,
               std::shared_ptr<const CachedObject> refreshed);

  // Removes every variant of a URI (RFC 9111 4.4 invalidation, or a purge of one key).
  // Returns how many objects went.
  size_t invalidate(const Key& primary);
  // Removes every object whose path starts with `prefix` (equals it, unless `prefix_match`),
  // on `host` if given (case-insensitive). Returns the count. Walks every shard.
  size_t purge(std::string_view path, bool prefix_match, std::optional<std::string_view> host);

  size_t maxObject() const { return max_object_; }
  uint64_t objects() const { return objects_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::vector<std::shared_ptr<const CachedObject>> variants;  // oldest first
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<Key, Entry, KeyHash> entries;
    std::unique_ptr<EvictionPolicy> policy;
    size_t bytes = 0;
  };
  using Released = std::vector<std::shared_ptr<const CachedObject>>;

  Shard& shardFor(const Key& primary) { return *shards_[primary.hi % shards_.size()]; }
  // Removes one variant from a shard's map (not from its policy). Caller holds the lock.
  void removeLocked(Shard& shard, const ObjectId& id, Released& released);
  void account(const std::shared_ptr<const CachedObject>& object, int sign);

  const size_t max_object_;
  size_t shard_budget_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> objects_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> evictions_{0};
};

// At most this many variants of one URI are kept (the oldest goes first).
constexpr size_t kMaxVariants = 32;

}  // namespace balancer::cache
