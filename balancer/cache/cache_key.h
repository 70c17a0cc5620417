#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/cache/fields.h"
#include "balancer/cache/siphash.h"
#include "common/http/header_list.h"

namespace balancer::cache {

// A fixed-size key: 128 bits of SipHash over a canonical form, so a map compares two words.
using Key = Hash128;

struct KeyHash {
  size_t operator()(const Key& key) const { return static_cast<size_t>(key.lo ^ key.hi); }
};

// The route's `cache: key:` settings.
struct KeyOptions {
  std::vector<std::string> ignore_query;  // query parameter names left out of the key
  std::vector<std::string> headers;       // request header values that split the key
  std::vector<std::string> cookies;       // cookie values that split the key
};

// Makes keys with one random SipHash key per process (keys are never persisted).
class KeyMaker {
 public:
  KeyMaker();  // a random hash key
  KeyMaker(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}

  // The primary key: what the request names (RFC 9111 2): the method's class (GET and HEAD
  // share one), the host (case-insensitive) and the target's path and query, without the
  // ignored query parameters. Purges and invalidation work on it: it covers every variant.
  Key primary(std::string_view host, std::string_view path, std::string_view query,
              const KeyOptions& options) const;

  // The secondary key: which variant of the primary one a request selects. It covers the
  // route's key additions (header and cookie values) and, for a response that had Vary, the
  // request's values of each varied field (RFC 9111 4.1), normalized so that whitespace and the
  // case of names do not split variants. `vary` comes from varyNames().
  Key secondary(const http::HeaderList& request, const KeyOptions& options,
                const std::vector<std::string>& vary) const;

 private:
  uint64_t k0_;
  uint64_t k1_;
};

// The field names a response varies on: lowercase, sorted, without duplicates ("*" kept: a
// caller checks for it).
std::vector<std::string> varyNames(const Fields& response);
std::vector<std::string> varyNames(const http::HeaderList& response);

// The query without the named parameters, in the original order ("a=1&utm=x&b=2" -> "a=1&b=2").
std::string withoutParams(std::string_view query, const std::vector<std::string>& names);

// The value of a cookie in a Cookie field ("a=1; b=2", "b" -> "2"); found says if it was there.
std::string_view cookieValue(std::string_view cookie_field, std::string_view name, bool* found);

}  // namespace balancer::cache
