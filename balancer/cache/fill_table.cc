#include "balancer/cache/fill_table.h"

#include <algorithm>

namespace balancer::cache {

FillTable::FillTable(size_t shards) {
  for (size_t i = 0; i < std::max<size_t>(1, shards); ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

FillTable::Join FillTable::join(const Key& primary, Wake wake, bool may_fill) {
  Shard& shard = shardFor(primary);
  std::lock_guard<std::mutex> lock(shard.mu);
  Join join;
  auto it = shard.fills.find(primary);
  if (it == shard.fills.end()) {
    if (!may_fill) {
      join.role = Role::kAlone;
      return join;
    }
    shard.fills.try_emplace(primary);
    join.role = Role::kFiller;
    return join;
  }
  Fill& fill = it->second;
  if (fill.object) {
    join.role = Role::kFollow;
    join.object = fill.object;
    return join;
  }
  join.role = Role::kWait;
  join.ticket = shard.next_ticket++;
  fill.waiters.push_back({join.ticket, std::move(wake)});
  return join;
}

bool FillTable::leave(const Key& primary, uint64_t ticket) {
  Wake dropped;  // destroyed after the lock is released
  Shard& shard = shardFor(primary);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.fills.find(primary);
  if (it == shard.fills.end()) {
    return false;
  }
  auto& waiters = it->second.waiters;
  for (auto w = waiters.begin(); w != waiters.end(); ++w) {
    if (w->ticket == ticket) {
      dropped = std::move(w->wake);
      waiters.erase(w);
      return true;
    }
  }
  return false;
}

void FillTable::wakeAll(const Key& primary, Outcome outcome,
                        std::shared_ptr<const CachedObject> object, bool erase) {
  std::vector<Waiter> waiters;
  {
    Shard& shard = shardFor(primary);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.fills.find(primary);
    if (it == shard.fills.end()) {
      return;
    }
    waiters.swap(it->second.waiters);
    if (erase) {
      shard.fills.erase(it);
    } else {
      it->second.object = object;
    }
  }
  for (Waiter& waiter : waiters) {
    waiter.wake(outcome, object);
  }
}

void FillTable::publish(const Key& primary, std::shared_ptr<const CachedObject> object) {
  wakeAll(primary, Outcome::kObject, std::move(object), /*erase=*/false);
}

void FillTable::abandon(const Key& primary) {
  wakeAll(primary, Outcome::kBypass, nullptr, /*erase=*/true);
}

void FillTable::finish(const Key& primary) {
  // Waiters are woken at publish(); any left (none, normally) go to the origin.
  wakeAll(primary, Outcome::kBypass, nullptr, /*erase=*/true);
}

size_t FillTable::inProgress() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    n += shard->fills.size();
  }
  return n;
}

}  // namespace balancer::cache
