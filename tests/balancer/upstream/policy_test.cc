#include <catch2/catch.hpp>

#include <map>
#include <memory>

#include "balancer/upstream/policy.h"

using namespace balancer;

namespace {
struct Backends {
  std::vector<std::unique_ptr<Backend>> owned;
  std::vector<Backend*> view;

  explicit Backends(std::vector<int> weights) {
    for (size_t i = 0; i < weights.size(); ++i) {
      util::SocketAddress a;
      a.text = std::string(1, static_cast<char>('a' + i));
      owned.push_back(std::make_unique<Backend>(a, weights[i]));
      view.push_back(owned.back().get());
    }
  }
  std::string sequence(Policy& p, int n, const TriedSet& tried = {}) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      int k = p.pick(view, tried);
      out += k < 0 ? '-' : view[static_cast<size_t>(k)]->address.text[0];
    }
    return out;
  }
};
}  // namespace

TEST_CASE("smooth weighted round-robin gives nginx's sequence for weights 5,1,1") {
  Backends b({5, 1, 1});
  RoundRobinPolicy rr;
  CHECK(b.sequence(rr, 7) == "aabacaa");
  CHECK(b.sequence(rr, 7) == "aabacaa");
}

TEST_CASE("round-robin with equal weights alternates and skips what is down or tried") {
  Backends b({1, 1, 1});
  RoundRobinPolicy rr;
  CHECK(b.sequence(rr, 6) == "abcabc");
  b.view[1]->healthy = false;
  CHECK(b.sequence(rr, 4) == "acac");
  TriedSet tried;
  tried.add(0);
  CHECK(b.sequence(rr, 2, tried) == "cc");
  b.view[2]->draining = true;
  CHECK(b.sequence(rr, 1, tried) == "-");
}

TEST_CASE("least_conn picks the least loaded per unit of weight") {
  Backends b({1, 2, 1});
  LeastConnPolicy lc;
  b.view[0]->in_flight = 3;
  b.view[1]->in_flight = 4;  // 2 per unit of weight
  b.view[2]->in_flight = 5;
  CHECK(lc.pick(b.view, {}) == 1);
  b.view[1]->in_flight = 8;  // 4 per unit
  CHECK(lc.pick(b.view, {}) == 0);
  b.view[0]->healthy = false;
  CHECK(lc.pick(b.view, {}) == 1);
}

TEST_CASE("least_conn spreads ties instead of always picking the first") {
  Backends b({1, 1, 1});
  LeastConnPolicy lc;
  std::map<int, int> counts;
  for (int i = 0; i < 30; ++i) {
    counts[lc.pick(b.view, {})]++;
  }
  CHECK(counts[0] == 10);
  CHECK(counts[1] == 10);
  CHECK(counts[2] == 10);
}

TEST_CASE("p2c never picks an unhealthy, draining or tried backend") {
  Backends b({1, 1, 1, 1, 1});
  P2CPolicy p2c(42);
  b.view[1]->healthy = false;
  b.view[3]->draining = true;
  TriedSet tried;
  tried.add(4);
  std::map<int, int> counts;
  for (int i = 0; i < 2000; ++i) {
    counts[p2c.pick(b.view, tried)]++;
  }
  CHECK(counts.count(1) == 0);
  CHECK(counts.count(3) == 0);
  CHECK(counts.count(4) == 0);
  CHECK(counts[0] + counts[2] == 2000);
  CHECK(counts[0] > 0);
  CHECK(counts[2] > 0);
  b.view[0]->healthy = false;
  b.view[2]->healthy = false;
  CHECK(p2c.pick(b.view, tried) == -1);
}

TEST_CASE("p2c prefers the less loaded of its two choices") {
  Backends b({1, 1});
  P2CPolicy p2c(7);
  b.view[0]->in_flight = 10;
  for (int i = 0; i < 100; ++i) {
    CHECK(p2c.pick(b.view, {}) == 1);
  }
}
