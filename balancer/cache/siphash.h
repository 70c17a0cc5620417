#pragma once

#include <cstdint>
#include <string_view>

namespace balancer::cache {

// SipHash-2-4 with a 128-bit output (Aumasson and Bernstein): a keyed hash, so a client cannot
// craft URLs whose keys collide without knowing the process's random key.
struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const Hash128& other) const { return lo == other.lo && hi == other.hi; }
  bool operator!=(const Hash128& other) const { return !(*this == other); }
};

Hash128 sipHash128(uint64_t k0, uint64_t k1, std::string_view data);

}  // namespace balancer::cache
