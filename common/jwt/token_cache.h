#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/jwt/verifier.h"

namespace jwt {

// Remembers the claims of verified tokens, so that a client sending the same token again is
// not verified again: a hit costs one non-cryptographic hash of the token, a hash-map lookup
// and one comparison of the whole token, takes no lock and allocates nothing.
//
// Keyed by the token itself (kept in the entry), so a hit means the very same bytes were
// verified before. The hash needs no collision resistance: only tokens that passed the
// Verifier are ever stored, and a lookup compares the whole token. An entry lives until the
// token's exp (without leeway: past exp, the token goes back through the Verifier, which
// applies the leeway). At most `capacity` entries; when full, the least recently used one is
// evicted. (A SHA-256 key was tried first: OpenSSL 3's EVP digest setup cost about 10,000
// instructions per request, as much as proxying the request.)
//
// Not thread-safe, by design: the balancer keeps one cache per worker thread, so the hot path
// takes no lock. Clear it when the key set or the Verifier's options change (reload), since
// entries were verified under the old ones.
class TokenCache {
 public:
  explicit TokenCache(size_t capacity);
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
  struct Entry {
    std::string token;
    Claims claims;
  };
  using Lru = std::list<Entry>;  // most recently used first

  const Claims* find(std::string_view token, int64_t now_seconds);
  const Claims* insert(std::string_view token, Claims claims, int64_t now_seconds);

  size_t capacity_;
  Lru lru_;
  // Keys view the tokens held by the entries, which list nodes never move.
  std::unordered_map<std::string_view, Lru::iterator> index_;
  Claims uncached_;  // verify()'s answer when it could not be cached
};

}  // namespace jwt
