#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "balancer/static_files/open_file.h"

namespace balancer::static_files {

// A worker's recent file lookups, as nginx's open_file_cache: the files static routes found,
// kept open with what fstat said, so that a request for a file served a moment ago needs no
// trip to the thread pool (open each path component, fstat, the siblings) and can be sent on
// the loop. One per worker (no locks), emptied on reload and stop.
//
// An entry is used only while it is fresh: looked up within `valid_ms`, and each of its files
// unchanged (OpenFile::unchanged, one fstat each: a file rewritten in place, deleted or
// replaced by a rename is looked up again at once). What fstat cannot see, a new sibling, a
// symlink put on the path, is seen once the entry is older than `valid_ms`. At most
// `max_entries` are kept (the least recently used goes first), and entries unused for
// `inactive_ms` are closed at the next find or put, as nginx does.
class OpenFileCache {
 public:
  explicit OpenFileCache(size_t max_entries = 512, uint64_t valid_ms = 1000,
                         uint64_t inactive_ms = 10000)
      : max_entries_(max_entries), valid_ms_(valid_ms), inactive_ms_(inactive_ms) {}
  OpenFileCache(const OpenFileCache&) = delete;
  OpenFileCache& operator=(const OpenFileCache&) = delete;

  // The fresh entry for `key` at loop time `now_ms`, or null: the caller looks the path up
  // and put()s what it found. An entry past `valid_ms` is looked up again by one caller
  // only: it counts as checked now, so the requests meanwhile go on using it.
  std::shared_ptr<const OpenFile> find(const std::string& key, uint64_t now_ms);
  // What a lookup begun at generation() found for `key`; dropped when clear() ran since
  // (a reload while the lookup was on the pool).
  void put(const std::string& key, std::shared_ptr<const OpenFile> file, uint64_t now_ms,
           uint64_t generation);
  // A lookup found nothing at `key` (404 now): the entry goes.
  void erase(const std::string& key);
  // Closes every entry (a reload, the worker stopping); responses sending one keep it.
  void clear();

  uint64_t generation() const { return generation_; }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const OpenFile> file;
    uint64_t checked_ms = 0;  // looked up, or a look-up started
    uint64_t used_ms = 0;
  };
  using List = std::list<Entry>;  // most recently used first
  void expireInactive(uint64_t now_ms);
  void remove(List::iterator it);

  size_t max_entries_;
  uint64_t valid_ms_;
  uint64_t inactive_ms_;
  uint64_t generation_ = 0;
  List lru_;
  std::unordered_map<std::string, List::iterator> map_;
};

}  // namespace balancer::static_files
