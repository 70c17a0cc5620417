#include "balancer/rate_limit/local_limiter.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace balancer::rate_limit {

namespace {
struct KeyHash {
  using is_transparent = void;  // lets find() take a string_view without building a string
  size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

struct Entry {
  Bucket bucket;
  int64_t full_at_ms = 0;  // when the bucket, left alone, is full again
};
}  // namespace

// alignas keeps two shards' mutexes off one cache line, so workers locking neighbouring
// shards do not slow each other down.
struct alignas(64) LocalLimiter::Shard {
  std::mutex mutex;
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> buckets;

  // Called with the lock held when the shard is at its cap. Frees at least an eighth of
  // the cap, so the O(n) sweep runs at most once per cap/8 new keys.
  void evict(size_t cap, int64_t now_ms) {
    std::erase_if(buckets, [now_ms](const auto& kv) { return kv.second.full_at_ms <= now_ms; });
    size_t target = cap - std::max<size_t>(cap / 8, 1);
    if (buckets.size() <= target) {
      return;
    }
    std::vector<int64_t> full_at;
    full_at.reserve(buckets.size());
    for (const auto& kv : buckets) {
      full_at.push_back(kv.second.full_at_ms);
    }
    size_t drop = buckets.size() - target;
    std::nth_element(full_at.begin(), full_at.begin() + static_cast<ptrdiff_t>(drop - 1),
                     full_at.end());
    int64_t threshold = full_at[drop - 1];
    // Ties at the threshold may leave a few more than `drop` out; that is harmless.
    std::erase_if(buckets,
                  [threshold](const auto& kv) { return kv.second.full_at_ms <= threshold; });
  }
};

LocalLimiter::LocalLimiter(Options options)
    : shards_(new Shard[std::max<size_t>(options.shards, 1)]),
      shard_count_(std::max<size_t>(options.shards, 1)),
      shard_cap_(std::max<size_t>(options.max_buckets / shard_count_, 1)) {}

LocalLimiter::~LocalLimiter() = default;

LocalLimiter::Shard& LocalLimiter::shardFor(std::string_view key) {
  // The high bits pick the shard, so the keys of one shard still differ in the low bits
  // that its own table's buckets use.
  return shards_[(KeyHash{}(key) >> 32) % shard_count_];
}

Decision LocalLimiter::check(std::string_view key, const Limit& limit, int64_t now_ms) {
  Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= shard_cap_) {
      shard.evict(shard_cap_, now_ms);
    }
    it = shard.buckets.emplace(std::string(key), Entry{fullBucket(limit, now_ms), now_ms}).first;
  }
  Decision d = take(it->second.bucket, limit, now_ms);
  it->second.full_at_ms = it->second.bucket.updated_ms + d.reset_ms;
  return d;
}

Decision LocalLimiter::check(std::string_view key, const Limit& limit) {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return check(key, limit, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

size_t LocalLimiter::size() const {
  size_t total = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].buckets.size();
  }
  return total;
}

}  // namespace balancer::rate_limit
