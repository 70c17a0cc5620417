#include "balancer/cache/siphash.h"

#include <cstring>

namespace balancer::cache {

namespace {

uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void compress(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t finish() {
    for (int i = 0; i < 4; ++i) {
      round();
    }
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

uint64_t loadLittleEndian(const unsigned char* p, size_t n) {
  uint64_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    m |= static_cast<uint64_t>(p[i]) << (8 * i);
  }
  return m;
}

}  // namespace

Hash128 sipHash128(uint64_t k0, uint64_t k1, std::string_view data) {
  State s{0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1 ^ 0xee,
          0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t blocks = data.size() / 8;
  for (size_t i = 0; i < blocks; ++i) {
    s.compress(loadLittleEndian(p + i * 8, 8));
  }
  uint64_t last = static_cast<uint64_t>(data.size()) << 56;
  last |= loadLittleEndian(p + blocks * 8, data.size() % 8);
  s.compress(last);
  s.v2 ^= 0xee;
  Hash128 out;
  out.lo = s.finish();
  s.v1 ^= 0xdd;
  out.hi = s.finish();
  return out;
}

}  // namespace balancer::cache
