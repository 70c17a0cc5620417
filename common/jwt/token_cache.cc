#include "common/jwt/token_cache.h"

#include <openssl/evp.h>

namespace jwt {

TokenCache::TokenCache(size_t capacity)
    : capacity_(capacity),
      sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
      md_ctx_(EVP_MD_CTX_new()) {
  index_.reserve(capacity);
}

TokenCache::~TokenCache() {
  EVP_MD_CTX_free(md_ctx_);
  EVP_MD_free(sha256_);
}

TokenCache::Digest TokenCache::hash(std::string_view token) {
  Digest digest{};
  unsigned int length = 0;
  bool ok = sha256_ != nullptr && md_ctx_ != nullptr &&
            EVP_DigestInit_ex2(md_ctx_, sha256_, nullptr) == 1 &&
            EVP_DigestUpdate(md_ctx_, token.data(), token.size()) == 1 &&
            EVP_DigestFinal_ex(md_ctx_, digest.data(), &length) == 1 && length == digest.size();
  if (!ok) {
    // Only without a working SHA-256 (no default provider): fall back to the one-shot call,
    // which looks the algorithm up each time.
    EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr);
  }
  return digest;
}

const Claims* TokenCache::find(const Digest& digest, int64_t now_seconds) {
  auto it = index_.find(digest);
  if (it == index_.end()) {
    return nullptr;
  }
  Lru::iterator entry = it->second;
  if (now_seconds >= entry->claims.exp) {
    lru_.erase(entry);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, entry);  // now the most recently used; no allocation
  return &entry->claims;
}

const Claims* TokenCache::insert(const Digest& digest, Claims claims, int64_t now_seconds) {
  if (capacity_ == 0 || now_seconds >= claims.exp) {
    return nullptr;
  }
  if (auto it = index_.find(digest); it != index_.end()) {
    it->second->claims = std::move(claims);
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->claims;
  }
  if (index_.size() >= capacity_) {
    index_.erase(lru_.back().digest);
    lru_.pop_back();
  }
  lru_.push_front(Entry{digest, std::move(claims)});
  index_.emplace(digest, lru_.begin());
  return &lru_.front().claims;
}

const Claims* TokenCache::get(std::string_view token, int64_t now_seconds) {
  return find(hash(token), now_seconds);
}

const Claims* TokenCache::put(std::string_view token, Claims claims, int64_t now_seconds) {
  return insert(hash(token), std::move(claims), now_seconds);
}

const Claims* TokenCache::verify(const Verifier& verifier, std::string_view token,
                                 int64_t now_seconds, Reason* reason) {
  // An oversized token is refused before it is hashed: hashing is cheap, but not free.
  if (token.size() > verifier.options().max_token_bytes) {
    *reason = Reason::kTooLarge;
    return nullptr;
  }
  Digest digest = hash(token);
  if (const Claims* cached = find(digest, now_seconds)) {
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
  return insert(digest, std::move(result.claims), now_seconds);
}

void TokenCache::clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace jwt
