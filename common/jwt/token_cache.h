#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <list>
#include <string_view>
#include <unordered_map>

#include <openssl/types.h>

#include "common/jwt/verifier.h"

namespace jwt {

// Remembers the claims of verified tokens, so that a client sending the same token again is
// not verified again: a hit costs one SHA-256 of the token and a hash-map lookup (well under
// a microsecond against tens to hundreds for a signature check), takes no lock and allocates
// nothing itself (OpenSSL 3.0 still makes one small allocation per digest).
//
// Keyed by the SHA-256 of the whole token (the token itself is not kept), so two tokens share
// an entry only if SHA-256 collides. An entry lives until the token's exp (without leeway:
// past exp, the token goes back through the Verifier, which applies the leeway). At most
// `capacity` entries; when full, the least recently used one is evicted.
//
// Not thread-safe, by design: the balancer keeps one cache per worker thread, so the hot path
// takes no lock. Clear it when the key set or the Verifier's options change (reload), since
// entries were verified under the old ones.
class TokenCache {
 public:
  explicit TokenCache(size_t capacity);
  ~TokenCache();
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // The claims of `token` if it was put here and its exp is still ahead of `now_seconds`, or
  // nullptr. An expired entry is dropped. The pointer is valid until the next call that
  // changes the cache (put, verify, clear, or a get that drops an entry).
  const Claims* get(std::string_view token, int64_t now_seconds);

  // Stores the claims of a token the Verifier accepted; returns the stored copy (valid as for
  // get), or nullptr when the token is already past its exp or the capacity is 0.
  const Claims* put(std::string_view token, Claims claims, int64_t now_seconds);

  // get(), then on a miss verifier.verify() and put() of an accepted token, hashing the token
  // once. Returns the claims (valid as for get) or nullptr with *reason set; *reason is
  // Reason::kOk on success.
  const Claims* verify(const Verifier& verifier, std::string_view token, int64_t now_seconds,
                       Reason* reason);

  void clear();
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    // SHA-256 output is already uniform: its first bytes are a good hash.
    size_t operator()(const Digest& digest) const {
      size_t h = 0;
      std::memcpy(&h, digest.data(), sizeof h);
      return h;
    }
  };
  struct Entry {
    Digest digest;
    Claims claims;
  };
  using Lru = std::list<Entry>;  // most recently used first

  Digest hash(std::string_view token);
  const Claims* find(const Digest& digest, int64_t now_seconds);
  const Claims* insert(const Digest& digest, Claims claims, int64_t now_seconds);

  size_t capacity_;
  Lru lru_;
  std::unordered_map<Digest, Lru::iterator, DigestHash> index_;
  EVP_MD* sha256_ = nullptr;      // fetched once: no per-token algorithm lookup
  EVP_MD_CTX* md_ctx_ = nullptr;  // reused for every token
  Claims uncached_;               // verify()'s answer when it could not be cached
};

}  // namespace jwt
