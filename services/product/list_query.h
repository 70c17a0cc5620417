#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace product {

// GET /api/products?limit=&offset=&q= once parsed and checked.
struct ListQuery {
  static constexpr int64_t kDefaultLimit = 20;
  static constexpr int64_t kMaxLimit = 100;
  // Longest q, in bytes: a search is a few words; a longer one only costs an ILIKE over every
  // row and a cache entry (400 past it).
  static constexpr size_t kMaxQBytes = 256;

  int64_t limit = kDefaultLimit;
  int64_t offset = 0;
  std::string q;  // decoded; empty: no filter
};

// Parses a request's query string (without the '?'). Returns nullopt with *error naming the
// parameter when limit is not an integer in 1..100, offset not an integer >= 0, or q not
// valid percent-encoded UTF-8 (or holding a NUL, which PostgreSQL text cannot store) or
// longer than kMaxQBytes once decoded.
// Unknown parameters are ignored; a repeated one takes its first value.
std::optional<ListQuery> parseListQuery(std::string_view query, std::string* error);

// The ILIKE pattern for a substring match of q: '%' + q with \, % and _ escaped + '%'.
std::string containsPattern(std::string_view q);

// The cache key of a list page under a list version: `products:list:V:LIMIT:OFFSET:HASH`,
// HASH = kit::keyHash of q lower-cased (ASCII) since ILIKE ignores case, so "Kopi" and "kopi"
// share one entry. Hashed: a key's size does not grow with q.
std::string listCacheKey(std::string_view version, const ListQuery& query);

}  // namespace product
