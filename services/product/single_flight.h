#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace product {

// Coalesces concurrent loads of one key: the first caller to miss a key loads it, the others
// wait for that load's result instead of loading it again (a cold popular product would
// otherwise send every request in the same instant to PostgreSQL). One loop thread: no locks.
template <typename Result>
class SingleFlight {
 public:
  using Waiter = std::function<void(const Result&)>;

  // Adds `waiter` to the flight of `key`. Returns true when no flight was under way: the
  // caller leads it and must call land(key, ...) exactly once when its load is done.
  bool join(const std::string& key, Waiter waiter) {
    auto [it, fresh] = flights_.try_emplace(key);
    it->second.push_back(std::move(waiter));
    if (fresh) {
      ++loads_;
    } else {
      ++coalesced_;
    }
    return fresh;
  }

  // Ends the flight of `key`, handing `result` to each waiter in the order they joined. A
  // waiter that joins the same key from inside its call starts a new flight.
  void land(const std::string& key, const Result& result) {
    auto it = flights_.find(key);
    if (it == flights_.end()) {
      return;
    }
    std::vector<Waiter> waiters = std::move(it->second);
    flights_.erase(it);
    for (Waiter& waiter : waiters) {
      waiter(result);
    }
  }

  uint64_t loads() const { return loads_; }          // flights started
  uint64_t coalesced() const { return coalesced_; }  // callers that joined one under way
  size_t inFlight() const { return flights_.size(); }

 private:
  std::unordered_map<std::string, std::vector<Waiter>> flights_;
  uint64_t loads_ = 0;
  uint64_t coalesced_ = 0;
};

}  // namespace product
