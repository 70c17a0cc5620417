#include "balancer/cache/lru.h"

namespace balancer::cache {

void Lru::insert(const ObjectId& id, size_t /*bytes*/) {
  order_.push_front(id);
  where_[id] = order_.begin();
}

void Lru::touch(const ObjectId& id) {
  auto it = where_.find(id);
  if (it != where_.end()) {
    order_.splice(order_.begin(), order_, it->second);
  }
}

void Lru::erase(const ObjectId& id) {
  auto it = where_.find(id);
  if (it != where_.end()) {
    order_.erase(it->second);
    where_.erase(it);
  }
}

bool Lru::evict(ObjectId* victim) {
  if (order_.empty()) {
    return false;
  }
  *victim = order_.back();
  where_.erase(order_.back());
  order_.pop_back();
  return true;
}

}  // namespace balancer::cache
