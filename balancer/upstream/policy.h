#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balancer/upstream/backend.h"
#include "balancer/config.h"

namespace balancer {

// The backends an exchange already tried, so a retry goes elsewhere. Indices beyond
// kCapacity are never marked, which only means such a backend may be retried.
class TriedSet {
 public:
  static constexpr size_t kCapacity = 256;
  void add(size_t i) {
    if (i < kCapacity) {
      bits_[i / 64] |= uint64_t{1} << (i % 64);
    }
  }
  bool contains(size_t i) const {
    return i < kCapacity && (bits_[i / 64] & (uint64_t{1} << (i % 64))) != 0;
  }
  void clear() { bits_[0] = bits_[1] = bits_[2] = bits_[3] = 0; }

 private:
  uint64_t bits_[4] = {0, 0, 0, 0};
};

// A balancing algorithm: pure logic over the backends' shared state, no I/O. Each worker
// owns one instance per upstream, so its state needs no lock.
class Policy {
 public:
  virtual ~Policy() = default;
  // Picks a usable backend (healthy, not draining, not in `tried`). Returns its index in
  // `backends`, or -1 when none is usable. `backends` keeps the same order between calls.
  virtual int pick(std::span<Backend* const> backends, const TriedSet& tried) = 0;
};

// Smooth weighted round-robin, as nginx does it: with weights 5,1,1 the sequence is
// a a b a c a a, never five a's in a row.
class RoundRobinPolicy final : public Policy {
 public:
  int pick(std::span<Backend* const> backends, const TriedSet& tried) override;

 private:
  std::vector<int64_t> current_;
};

// The backend with the fewest in-flight requests per unit of weight, counted over all
// workers. Ties go round the backends so that an idle upstream still spreads its load.
class LeastConnPolicy final : public Policy {
 public:
  int pick(std::span<Backend* const> backends, const TriedSet& tried) override;

 private:
  size_t next_ = 0;
};

// Power of two random choices: of two usable backends drawn at random, the less loaded
// (in-flight per weight). Near least_conn's balance without every worker herding onto the
// same backend between two updates of the counts.
class P2CPolicy final : public Policy {
 public:
  explicit P2CPolicy(uint64_t seed) : state_(seed | 1) {}
  int pick(std::span<Backend* const> backends, const TriedSet& tried) override;

 private:
  uint64_t nextRandom();
  uint64_t state_;
  std::vector<int> usable_;
};

std::unique_ptr<Policy> makePolicy(BalanceKind kind, uint64_t seed);

}  // namespace balancer
