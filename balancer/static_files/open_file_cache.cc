#include "balancer/static_files/open_file_cache.h"

namespace balancer::static_files {

std::shared_ptr<const OpenFile> OpenFileCache::find(const std::string& key, uint64_t now_ms) {
  expireInactive(now_ms);
  auto found = map_.find(key);
  if (found == map_.end()) {
    return nullptr;
  }
  List::iterator it = found->second;
  if (now_ms - it->checked_ms >= valid_ms_) {
    it->checked_ms = now_ms;  // this caller looks it up again; the others go on with it
    return nullptr;
  }
  if (!it->file->unchanged()) {
    remove(it);
    return nullptr;
  }
  it->used_ms = now_ms;
  lru_.splice(lru_.begin(), lru_, it);
  return it->file;
}

void OpenFileCache::put(const std::string& key, std::shared_ptr<const OpenFile> file,
                        uint64_t now_ms, uint64_t generation) {
  if (generation != generation_ || max_entries_ == 0) {
    return;
  }
  expireInactive(now_ms);
  auto found = map_.find(key);
  if (found != map_.end()) {
    remove(found->second);
  }
  while (map_.size() >= max_entries_) {
    remove(std::prev(lru_.end()));
  }
  lru_.push_front(Entry{key, std::move(file), now_ms, now_ms});
  map_.emplace(key, lru_.begin());
}

void OpenFileCache::erase(const std::string& key) {
  auto found = map_.find(key);
  if (found != map_.end()) {
    remove(found->second);
  }
}

void OpenFileCache::clear() {
  ++generation_;
  map_.clear();
  lru_.clear();
}

void OpenFileCache::expireInactive(uint64_t now_ms) {
  while (!lru_.empty() && now_ms - lru_.back().used_ms >= inactive_ms_) {
    remove(std::prev(lru_.end()));
  }
}

void OpenFileCache::remove(List::iterator it) {
  map_.erase(it->key);
  lru_.erase(it);
}

}  // namespace balancer::static_files
