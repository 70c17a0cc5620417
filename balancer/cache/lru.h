#pragma once

#include <list>
#include <unordered_map>

#include "balancer/cache/eviction_policy.h"

namespace balancer::cache {

// Least recently used: the floor every other policy is measured against. A one-off scan
// pushes every hot object out.
class Lru final : public EvictionPolicy {
 public:
  std::string_view name() const override { return "lru"; }
  void insert(const ObjectId& id, size_t bytes) override;
  void touch(const ObjectId& id) override;
  void erase(const ObjectId& id) override;
  bool evict(ObjectId* victim) override;

 private:
  std::list<ObjectId> order_;  // most recent first
  std::unordered_map<ObjectId, std::list<ObjectId>::iterator, ObjectIdHash> where_;
};

}  // namespace balancer::cache
