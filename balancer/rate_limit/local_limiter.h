#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "balancer/rate_limit/token_bucket.h"

namespace balancer::rate_limit {

// The buckets of `scope: local` limits: one instance per balancer process, shared by every
// worker thread, keyed by a string the caller builds (e.g. route name + client IP).
//
// The table is split into shards by the key's hash, each behind its own mutex. A check
// holds its shard's lock for one hash lookup and a few arithmetic operations (well under a
// microsecond), and two workers only meet when their keys land in the same one of 64
// shards, so an uncontended lock (one atomic exchange each way) is the usual cost. HAProxy's
// stick tables take a lock per table for the same job. A lock-free table would save little
// over that and cost much more code.
//
// Memory is bounded: when a shard reaches its share of `max_buckets`, it drops the buckets
// that have refilled completely (a full bucket answers exactly as a missing one), and if
// that frees too little, the buckets nearest to full. Those keys then start again from a
// full bucket, a small leniency that only a flood of distinct keys can cause.
class LocalLimiter {
 public:
  struct Options {
    size_t shards = 64;
    size_t max_buckets = 256 * 1024;  // about 100 bytes each
  };

  LocalLimiter() : LocalLimiter(Options{}) {}
  explicit LocalLimiter(Options options);
  ~LocalLimiter();
  LocalLimiter(const LocalLimiter&) = delete;
  LocalLimiter& operator=(const LocalLimiter&) = delete;

  // Takes one token from `key`'s bucket under `limit` (a new key starts full). Thread-safe.
  // `now_ms` is a monotonic clock in milliseconds; the overload without it reads
  // std::chrono::steady_clock, which every thread shares.
  Decision check(std::string_view key, const Limit& limit, int64_t now_ms);
  Decision check(std::string_view key, const Limit& limit);

  // Buckets held now, over all shards (takes every lock: for tests and metrics).
  size_t size() const;

 private:
  struct Shard;
  Shard& shardFor(std::string_view key);

  std::unique_ptr<Shard[]> shards_;
  size_t shard_count_;
  size_t shard_cap_;
};

}  // namespace balancer::rate_limit
