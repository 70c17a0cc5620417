#include "services/product/product_cache.h"

#include <hiredis/hiredis.h>

#include "common/log/log.h"

namespace product {

namespace {

constexpr std::string_view kListVersionKey = "products:list:version";

// KEYS: product, its version. ARGV: body, ttl ms, the version read before PostgreSQL.
constexpr std::string_view kStoreScript =
    "if (redis.call('GET', KEYS[2]) or '') == ARGV[3] then "
    "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 0";

// KEYS: product, its version. ARGV: version ttl s.
constexpr std::string_view kInvalidateScript =
    "redis.call('INCR', KEYS[2]) redis.call('EXPIRE', KEYS[2], ARGV[1]) "
    "return redis.call('DEL', KEYS[1])";

bool answered(const redisReply* reply) {
  return reply != nullptr && reply->type != REDIS_REPLY_ERROR;
}

}  // namespace

ProductCache::ProductCache(redis::Client& redis, Options options)
    : redis_(redis), options_(options) {
  redis_.onConnected([this] { replayPending(); });
}

std::string ProductCache::productKey(int64_t id) { return "product:{" + std::to_string(id) + "}"; }

void ProductCache::failed(const char* what) {
  if (failures_++ % 1000 == 0) {  // one line per outage, not one per request
    LOG_WARN("redis %s failed; serving from PostgreSQL", what);
  }
}

void ProductCache::get(const std::string& key, LookupDone done) {
  if (!usable()) {
    done(Lookup::kUnavailable, {});
    return;
  }
  redis_.command({"GET", key}, [this, done = std::move(done)](const redisReply* reply) {
    if (!answered(reply)) {
      failed("GET");
      done(Lookup::kUnavailable, {});
    } else if (reply->type == REDIS_REPLY_STRING) {
      done(Lookup::kHit, std::string_view(reply->str, reply->len));
    } else {
      done(Lookup::kMiss, {});
    }
  });
}

void ProductCache::productVersion(int64_t id, VersionDone done) {
  if (!usable()) {
    done(std::nullopt);
    return;
  }
  redis_.command({"GET", productKey(id) + ":version"},
                 [this, done = std::move(done)](const redisReply* reply) {
                   if (!answered(reply)) {
                     failed("GET version");
                     done(std::nullopt);
                   } else if (reply->type == REDIS_REPLY_STRING) {
                     done(std::string(reply->str, reply->len));
                   } else {
                     done(std::string());
                   }
                 });
}

void ProductCache::storeProduct(int64_t id, const std::string& version,
                                const std::optional<std::string>& body, Done done) {
  uint64_t ttl = body ? options_.ttl_ms : options_.negative_ttl_ms;
  if (!usable() || ttl == 0) {
    done();
    return;
  }
  std::string key = productKey(id);
  std::string ttl_text = std::to_string(ttl);
  redis_.command({"EVAL", kStoreScript, "2", key, key + ":version",
                  body ? std::string_view(*body) : kNotFound, ttl_text, version},
                 [this, done = std::move(done)](const redisReply* reply) {
                   if (!answered(reply)) {
                     failed("store");
                   } else if (reply->type == REDIS_REPLY_INTEGER) {
                     ++stores_skipped_;  // written meanwhile: the next reader loads it anew
                   }
                   done();
                 });
}

void ProductCache::listVersion(VersionDone done) {
  if (!usable()) {
    done(std::nullopt);
    return;
  }
  redis_.command({"GET", kListVersionKey}, [this, done = std::move(done)](const redisReply* reply) {
    if (!answered(reply)) {
      failed("GET list version");
      done(std::nullopt);
    } else if (reply->type == REDIS_REPLY_STRING) {
      done(std::string(reply->str, reply->len));
    } else {
      done(std::string("0"));
    }
  });
}

void ProductCache::storeList(const std::string& key, const std::string& body, Done done) {
  if (!usable() || options_.ttl_ms == 0) {
    done();
    return;
  }
  redis_.command({"SET", key, body, "PX", std::to_string(options_.ttl_ms)},
                 [this, done = std::move(done)](const redisReply* reply) {
                   if (!answered(reply)) {
                     failed("SET list");
                   }
                   done();
                 });
}

void ProductCache::invalidate(int64_t id, Done done) {
  pending_ids_.insert(id);
  pending_lists_ = true;
  if (!usable()) {
    LOG_WARN("redis down: invalidation of product %lld kept for when it is back",
             static_cast<long long>(id));
    done();
    return;
  }
  // Both answers are needed before the writer answers its client, so that the client's next
  // read cannot hit the old entry. Commands on one connection are answered in order, so the
  // second reply means the first has come too.
  std::string key = productKey(id);
  redis_.command({"EVAL", kInvalidateScript, "2", key, key + ":version",
                  std::to_string(options_.version_ttl_s)},
                 [this, id](const redisReply* reply) {
                   if (answered(reply)) {
                     pending_ids_.erase(id);
                   } else {
                     failed("invalidate");
                   }
                 });
  redis_.command({"INCR", kListVersionKey},
                 [this, done = std::move(done)](const redisReply* reply) {
                   if (answered(reply)) {
                     pending_lists_ = false;
                   } else {
                     failed("INCR list version");
                   }
                   done();
                 });
}

void ProductCache::replayPending() {
  if (pending_ids_.empty() && !pending_lists_) {
    return;
  }
  LOG_INFO("redis back: replaying %zu product invalidations", pending_ids_.size());
  std::set<int64_t> ids = std::move(pending_ids_);
  pending_ids_.clear();
  std::string version_ttl = std::to_string(options_.version_ttl_s);
  for (int64_t id : ids) {
    std::string key = productKey(id);
    pending_ids_.insert(id);
    redis_.command({"EVAL", kInvalidateScript, "2", key, key + ":version", version_ttl},
                   [this, id](const redisReply* reply) {
                     if (answered(reply)) {
                       pending_ids_.erase(id);
                     }
                   });
  }
  redis_.command({"INCR", kListVersionKey}, [this](const redisReply* reply) {
    if (answered(reply)) {
      pending_lists_ = false;
    }
  });
}

void ProductCache::collect(metrics::Exposition& out) const {
  out.family("product_cache_redis_failures_total", "counter",
             "Redis commands of the product cache that failed (Redis down, lost or erroring).");
  out.sample("product_cache_redis_failures_total", {}, static_cast<double>(failures_));
  out.family("product_cache_stores_skipped_total", "counter",
             "Loaded products not cached because a write changed them during the load.");
  out.sample("product_cache_stores_skipped_total", {}, static_cast<double>(stores_skipped_));
  out.family("product_cache_pending_invalidations", "gauge",
             "Product invalidations waiting for Redis to come back.");
  out.sample("product_cache_pending_invalidations", {}, static_cast<double>(pending_ids_.size()));
}

}  // namespace product
