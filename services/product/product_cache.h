#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/metrics/exposition.h"
#include "common/redis/client.h"

namespace product {

// The Redis side of the cache-aside: what is stored under which key, and how writes make
// readers miss. Redis being down is never an error here: lookups report kUnavailable and the
// caller reads PostgreSQL; stores are dropped; invalidations are kept and replayed when Redis
// is back.
//
// Keys (the {ID} braces are a Redis Cluster hash tag: a product's two keys share a slot, so
// one script may touch both):
//   product:{ID}           the product's JSON body as sent, or "" for a cached 404
//   product:{ID}:version   bumped by every write of the product
//   products:list:version  bumped by every write of any product
//   products:list:V:L:O:H  a list page's JSON body under list version V (see listCacheKey:
//                          H hashes q); pages without items are not stored
//
// Why a product version: a reader that misses, reads the old row from PostgreSQL and is slow
// to store it could otherwise put the old row back after a write's DEL, for a whole TTL. The
// reader notes the version before reading PostgreSQL and stores only if it is unchanged
// (checked and set in one script). Lists need no such check: a write moves readers to a new
// list version, so a late store lands under a key no one reads any more.
class ProductCache {
 public:
  struct Options {
    uint64_t ttl_ms = 60000;          // cache.ttl
    uint64_t negative_ttl_ms = 5000;  // cache.negative_ttl; 0: 404s are not cached
    uint64_t version_ttl_s = 86400;   // far longer than any PostgreSQL read
  };
  enum class Lookup { kHit, kMiss, kUnavailable };
  using LookupDone = std::function<void(Lookup result, std::string_view value)>;
  using VersionDone = std::function<void(std::optional<std::string> version)>;  // nullopt: down
  using Done = std::function<void()>;

  // Marks a cached 404 (a product body is never empty).
  static constexpr std::string_view kNotFound = "";

  ProductCache(redis::Client& redis, Options options);

  static std::string productKey(int64_t id);

  // GET key. `done` may run before get() returns when the cache is closed.
  void get(const std::string& key, LookupDone done);

  // The product's version now ("" when it was never written); nullopt when Redis is down.
  void productVersion(int64_t id, VersionDone done);
  // Stores the product's body (or a 404 marker for nullopt) unless it was written since
  // `version` was read. done() runs once Redis has answered (or failed).
  void storeProduct(int64_t id, const std::string& version, const std::optional<std::string>& body,
                    Done done);

  // The current list version ("0" when none yet); nullopt when Redis is down.
  void listVersion(VersionDone done);
  void storeList(const std::string& key, const std::string& body, Done done);

  // After a write of product `id` has committed: bumps its version, deletes its entry and
  // bumps the list version. done() runs when Redis has answered; when it could not, the
  // invalidation is remembered and replayed on reconnection.
  void invalidate(int64_t id, Done done);

  // Stops using Redis (shutdown): every call from now on answers at once as if it were down.
  // The kit's redis::Client never answers commands sent after its close().
  void close() { closed_ = true; }

  void collect(metrics::Exposition& out) const;

 private:
  bool usable() const { return !closed_ && redis_.connected(); }
  void replayPending();
  void failed(const char* what);

  redis::Client& redis_;
  Options options_;
  bool closed_ = false;
  std::set<int64_t> pending_ids_;  // invalidations Redis has not taken yet
  bool pending_lists_ = false;
  uint64_t failures_ = 0;
  uint64_t stores_skipped_ = 0;
};

}  // namespace product
