#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "balancer/cache/cached_object.h"
#include "balancer/cache/cache_key.h"

namespace balancer::cache {

// Collapsed forwarding: the misses in progress, per primary key. The first miss for a key is
// its filler and goes to the origin; later ones for the same key, on any worker, do not:
//  - while the filler waits for the response head they wait too (bounded by their own timer),
//    with a callback that the filler's thread calls once. The callback must be thread-safe:
//    a worker's callback posts to its own loop (a uv_async_t), where the waiter goes on;
//  - once the head is in and the response is being stored, they follow the growing object
//    (the filler streams into it while readers read what is there and wait for more);
//  - once the head is known to be uncacheable (or the origin failed), they go to the origin
//    themselves, at once.
// The table is sharded like the store; a shard's lock is held for map operations only and
// never while a callback runs.
class FillTable {
 public:
  enum class Outcome : uint8_t {
    kObject,  // the fill stores this object: follow it (check its Vary first)
    kBypass,  // uncacheable or failed: go to the origin
  };
  using Wake = std::function<void(Outcome, std::shared_ptr<const CachedObject>)>;

  enum class Role : uint8_t {
    kFiller,  // go to the origin; then publish() or abandon(), and finish()
    kFollow,  // `object` is being filled: stream it
    kWait,    // `ticket` registered: `wake` will be called (or leave() on a timeout)
    kAlone,   // no fill in progress and this request may not start one: go to the origin
  };
  struct Join {
    Role role = Role::kFiller;
    std::shared_ptr<const CachedObject> object;
    uint64_t ticket = 0;
  };

  explicit FillTable(size_t shards = 16);
  FillTable(const FillTable&) = delete;
  FillTable& operator=(const FillTable&) = delete;

  // A request that missed the store. `wake` is kept only for Role::kWait. A request whose
  // origin answer would be its own (Range, conditions: a 206 or 304 is not stored) passes
  // `may_fill` false: it follows a fill in progress, else it is kAlone.
  Join join(const Key& primary, Wake wake, bool may_fill = true);
  // A waiter gives up (its bounded wait ran out, or its client left); it then goes to the
  // origin itself. False when it was already woken (its callback has run or is running).
  bool leave(const Key& primary, uint64_t ticket);

  // The filler: the head is in and the response is stored as `object` (its body growing).
  // Wakes the waiters with it; later joins follow it until finish().
  void publish(const Key& primary, std::shared_ptr<const CachedObject> object);
  // The filler: the response is not stored (or the origin failed): waiters go to the origin.
  void abandon(const Key& primary);
  // The filler: the body is complete and the object is in the store (insert first, then
  // finish: a request that misses the store afterwards finds the fill gone and fills anew only
  // if the object really is not there).
  void finish(const Key& primary);

  size_t inProgress() const;

 private:
  struct Waiter {
    uint64_t ticket;
    Wake wake;
  };
  struct Fill {
    std::shared_ptr<const CachedObject> object;  // set by publish()
    std::vector<Waiter> waiters;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, Fill, KeyHash> fills;
    uint64_t next_ticket = 1;
  };
  Shard& shardFor(const Key& primary) { return *shards_[primary.hi % shards_.size()]; }
  // Removes the fill (if `erase`) or takes its waiters, then wakes them outside the lock.
  void wakeAll(const Key& primary, Outcome outcome, std::shared_ptr<const CachedObject> object,
               bool erase);

  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace balancer::cache
