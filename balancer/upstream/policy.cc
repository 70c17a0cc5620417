#include "balancer/upstream/policy.h"

namespace balancer {

namespace {
bool eligible(std::span<Backend* const> backends, const TriedSet& tried, size_t i) {
  return backends[i]->usable() && !tried.contains(i);
}

// a.in_flight / a.weight < b.in_flight / b.weight, without division.
bool lessLoaded(const Backend& a, const Backend& b) {
  return a.inFlight() * b.effectiveWeight() < b.inFlight() * a.effectiveWeight();
}
}  // namespace

int RoundRobinPolicy::pick(std::span<Backend* const> backends, const TriedSet& tried) {
  if (current_.size() != backends.size()) {
    current_.assign(backends.size(), 0);
  }
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < backends.size(); ++i) {
    if (!eligible(backends, tried, i)) {
      continue;
    }
    int64_t weight = backends[i]->effectiveWeight();
    current_[i] += weight;
    total += weight;
    if (best < 0 || current_[i] > current_[static_cast<size_t>(best)]) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0) {
    current_[static_cast<size_t>(best)] -= total;
  }
  return best;
}

int LeastConnPolicy::pick(std::span<Backend* const> backends, const TriedSet& tried) {
  size_t n = backends.size();
  if (n == 0) {
    return -1;
  }
  int best = -1;
  size_t start = next_++ % n;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    if (!eligible(backends, tried, i)) {
      continue;
    }
    if (best < 0 || lessLoaded(*backends[i], *backends[static_cast<size_t>(best)])) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

uint64_t P2CPolicy::nextRandom() {
  // xorshift64*: fast, and good enough to spread load.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1DULL;
}

int P2CPolicy::pick(std::span<Backend* const> backends, const TriedSet& tried) {
  usable_.clear();
  for (size_t i = 0; i < backends.size(); ++i) {
    if (eligible(backends, tried, i)) {
      usable_.push_back(static_cast<int>(i));
    }
  }
  if (usable_.empty()) {
    return -1;
  }
  if (usable_.size() == 1) {
    return usable_[0];
  }
  size_t n = usable_.size();
  size_t a = nextRandom() % n;
  size_t b = nextRandom() % (n - 1);
  if (b >= a) {
    ++b;  // two distinct choices
  }
  int ia = usable_[a];
  int ib = usable_[b];
  return lessLoaded(*backends[static_cast<size_t>(ib)], *backends[static_cast<size_t>(ia)]) ? ib
                                                                                            : ia;
}

std::unique_ptr<Policy> makePolicy(BalanceKind kind, uint64_t seed) {
  switch (kind) {
    case BalanceKind::kRoundRobin:
      return std::make_unique<RoundRobinPolicy>();
    case BalanceKind::kLeastConn:
      return std::make_unique<LeastConnPolicy>();
    case BalanceKind::kP2C:
      return std::make_unique<P2CPolicy>(seed);
  }
  return std::make_unique<RoundRobinPolicy>();
}

}  // namespace balancer
