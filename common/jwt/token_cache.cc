#include "common/jwt/token_cache.h"

namespace jwt {

TokenCache::TokenCache(size_t capacity) : capacity_(capacity) { index_.reserve(capacity); }

const Claims* TokenCache::find(std::string_view token, int64_t now_seconds) {
  auto it = index_.find(token);
  if (it == index_.end()) {
    return nullptr;
  }
  Lru::iterator entry = it->second;
  if (now_seconds >= entry->claims.exp) {
    index_.erase(it);
    lru_.erase(entry);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, entry);  // now the most recently used; no allocation
  return &entry->claims;
}

const Claims* TokenCache::insert(std::string_view token, Claims claims, int64_t now_seconds) {
  if (capacity_ == 0 || now_seconds >= claims.exp) {
    return nullptr;
  }
  if (auto it = index_.find(token); it != index_.end()) {
    it->second->claims = std::move(claims);
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->claims;
  }
  if (index_.size() >= capacity_) {
    index_.erase(lru_.back().token);
    lru_.pop_back();
  }
  lru_.push_front(Entry{std::string(token), std::move(claims)});
  index_.emplace(lru_.front().token, lru_.begin());
  return &lru_.front().claims;
}

const Claims* TokenCache::get(std::string_view token, int64_t now_seconds) {
  return find(token, now_seconds);
}

const Claims* TokenCache::put(std::string_view token, Claims claims, int64_t now_seconds) {
  return insert(token, std::move(claims), now_seconds);
}

const Claims* TokenCache::verify(const Verifier& verifier, std::string_view token,
                                 int64_t now_seconds, Reason* reason) {
  // An oversized token is refused before anything else, and never kept.
  if (token.size() > verifier.options().max_token_bytes) {
    *reason = Reason::kTooLarge;
    return nullptr;
  }
  if (const Claims* cached = find(token, now_seconds)) {
    *reason = Reason::kOk;
    return cached;
  }
  Result result = verifier.verify(token, now_seconds);
  *reason = result.reason;
  if (!result.ok) {
    return nullptr;
  }
  if (capacity_ == 0 || now_seconds >= result.claims.exp) {
    // Accepted within the leeway past exp, or no capacity: valid now, just not cached. The
    // caller still needs the claims, so the latest such result is kept here.
    uncached_ = std::move(result.claims);
    return &uncached_;
  }
  return insert(token, std::move(result.claims), now_seconds);
}

void TokenCache::clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace jwt
