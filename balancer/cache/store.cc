#include "balancer/cache/store.h"

#include <algorithm>

namespace balancer::cache {

Store::Store(const StoreLimits& limits) : max_object_(std::min(limits.max_object, limits.memory)) {
  size_t shards = std::max<size_t>(1, limits.shards);
  if (max_object_ > 0) {
    shards = std::max<size_t>(1, std::min(shards, limits.memory / max_object_));
  }
  shard_budget_ = limits.memory / shards;
  for (size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->policy = makeEvictionPolicy(limits.eviction, shard_budget_);
    shards_.push_back(std::move(shard));
  }
}

void Store::account(const std::shared_ptr<const CachedObject>& object, int sign) {
  const uint64_t size = object->bytes();
  if (sign > 0) {
    objects_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(size, std::memory_order_relaxed);
  } else {
    objects_.fetch_sub(1, std::memory_order_relaxed);
    bytes_.fetch_sub(size, std::memory_order_relaxed);
  }
}

std::shared_ptr<const CachedObject> Store::lookup(const Key& primary,
                                                  const SecondaryFor& secondary_for) {
  Shard& shard = shardFor(primary);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(primary);
  if (it == shard.entries.end()) {
    return nullptr;
  }
  // Variants often share one Vary list: its secondary key is computed once.
  const std::vector<std::string>* last_vary = nullptr;
  Key wanted;
  const auto& variants = it->second.variants;
  for (auto v = variants.rbegin(); v != variants.rend(); ++v) {
    const auto& variant = *v;
    if (last_vary == nullptr || *last_vary != variant->vary) {
      last_vary = &variant->vary;
      wanted = secondary_for(variant->vary);
    }
    if (variant->secondary == wanted) {
      shard.policy->touch({primary, variant->secondary});
      return variant;
    }
  }
  return nullptr;
}

void Store::removeLocked(Shard& shard, const ObjectId& id, Released& released) {
  auto it = shard.entries.find(id.primary);
  if (it == shard.entries.end()) {
    return;
  }
  auto& variants = it->second.variants;
  for (auto v = variants.begin(); v != variants.end(); ++v) {
    if ((*v)->secondary == id.secondary) {
      shard.bytes -= (*v)->bytes();
      account(*v, -1);
      released.push_back(std::move(*v));
      variants.erase(v);
      break;
    }
  }
  if (variants.empty()) {
    shard.entries.erase(it);
  }
}

bool Store::insert(std::shared_ptr<const CachedObject> object) {
  const size_t size = object->bytes();
  if (size > max_object_) {
    return false;
  }
  Released released;  // freed after the lock is released
  Shard& shard = shardFor(object->primary);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    const ObjectId id{object->primary, object->secondary};
    shard.policy->erase(id);
    removeLocked(shard, id, released);
    Entry& entry = shard.entries[object->primary];
    if (entry.variants.size() >= kMaxVariants) {
      const ObjectId oldest{object->primary, entry.variants.front()->secondary};
      shard.policy->erase(oldest);
      removeLocked(shard, oldest, released);
    }
    Entry& current = shard.entries[object->primary];  // the entry may have gone and come back
    account(object, +1);
    shard.bytes += size;
    shard.policy->insert(id, size);
    current.variants.push_back(std::move(object));
    ObjectId victim;
    while (shard.bytes > shard_budget_ && shard.policy->evict(&victim)) {
      removeLocked(shard, victim, released);
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return true;
}

bool Store::refresh(const std::shared_ptr<const CachedObject>& old_object,
                    std::shared_ptr<const CachedObject> refreshed) {
  Shard& shard = shardFor(old_object->primary);
  Released released;
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(old_object->primary);
  if (it == shard.entries.end()) {
    return false;
  }
  for (auto& variant : it->second.variants) {
    if (variant == old_object) {
      shard.bytes += refreshed->bytes();
      shard.bytes -= variant->bytes();
      account(variant, -1);
      account(refreshed, +1);
      released.push_back(std::move(variant));
      variant = std::move(refreshed);
      return true;
    }
  }
  return false;
}

size_t Store::invalidate(const Key& primary) {
  Shard& shard = shardFor(primary);
  Released released;
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(primary);
  if (it == shard.entries.end()) {
    return 0;
  }
  std::vector<Key> secondaries;
  for (const auto& variant : it->second.variants) {
    secondaries.push_back(variant->secondary);
  }
  for (const Key& secondary : secondaries) {
    shard.policy->erase({primary, secondary});
    removeLocked(shard, {primary, secondary}, released);
  }
  return secondaries.size();
}

size_t Store::purge(std::string_view path, bool prefix_match,
                    std::optional<std::string_view> host) {
  size_t count = 0;
  for (auto& shard_ptr : shards_) {
    Shard& shard = *shard_ptr;
    Released released;
    std::lock_guard<std::mutex> lock(shard.mu);
    std::vector<ObjectId> doomed;
    for (const auto& [primary, entry] : shard.entries) {
      for (const auto& variant : entry.variants) {
        const bool path_matches = prefix_match ? variant->path.compare(0, path.size(), path) == 0
                                               : variant->path == path;
        if (path_matches && (!host || http::equalsIgnoreCase(variant->host, *host))) {
          doomed.push_back({primary, variant->secondary});
        }
      }
    }
    for (const ObjectId& id : doomed) {
      shard.policy->erase(id);
      removeLocked(shard, id, released);
    }
    count += doomed.size();
  }
  return count;
}

}  // namespace balancer::cache
