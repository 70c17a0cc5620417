#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "balancer/cache/cache_key.h"

namespace balancer::cache {

// One stored object: a variant (secondary key) of a URI (primary key).
struct ObjectId {
  Key primary;
  Key secondary;
  bool operator==(const ObjectId& other) const {
    return primary == other.primary && secondary == other.secondary;
  }
};

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const {
    return static_cast<size_t>(id.primary.lo ^ (id.secondary.lo * 0x9e3779b97f4a7c15ULL));
  }
};

// Which object a store shard gives up when it is over its byte budget. Called under the
// shard's lock: every operation is O(1) amortized and allocates little.
class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual std::string_view name() const = 0;
  // A new object (not tracked yet) of `bytes`.
  virtual void insert(const ObjectId& id, size_t bytes) = 0;
  // The object was read (a hit).
  virtual void touch(const ObjectId& id) = 0;
  // The object left the store for another reason (purged, replaced).
  virtual void erase(const ObjectId& id) = 0;
  // Chooses the next object to evict and stops tracking it; false when nothing is tracked.
  virtual bool evict(ObjectId* victim) = 0;
};

enum class EvictionKind : uint8_t { kS3Fifo, kLru };

// `capacity_bytes`: the shard's budget (S3-FIFO sizes its small queue from it).
std::unique_ptr<EvictionPolicy> makeEvictionPolicy(EvictionKind kind, size_t capacity_bytes);

}  // namespace balancer::cache
