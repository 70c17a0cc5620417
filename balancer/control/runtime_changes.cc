#include "balancer/control/runtime_changes.h"

#include "balancer/snapshot.h"
#include "common/log/log.h"

namespace balancer {

void RuntimeChanges::added(const std::string& upstream, const std::string& address, int weight) {
  changes_[{upstream, address}] = {Kind::kAdded, weight};
}

void RuntimeChanges::removed(const std::string& upstream, const std::string& address) {
  changes_[{upstream, address}] = {Kind::kRemoved, 0};
}

void RuntimeChanges::weighted(const std::string& upstream, const std::string& address, int weight) {
  auto it = changes_.find({upstream, address});
  if (it != changes_.end() && it->second.kind == Kind::kAdded) {
    it->second.weight = weight;  // still an addition, now with this weight
    return;
  }
  changes_[{upstream, address}] = {Kind::kWeight, weight};
}

void RuntimeChanges::forgetAbsent(const Snapshot& snapshot) {
  std::erase_if(changes_, [&](const auto& entry) {
    for (const auto& upstream : snapshot.upstreams()) {
      if (upstream->config->name == entry.first.first) {
        return false;
      }
    }
    return true;
  });
}

void RuntimeChanges::applyTo(Snapshot& snapshot) const {
  for (const auto& upstream : snapshot.upstreams()) {
    const std::string& name = upstream->config->name;
    auto first = changes_.lower_bound({name, std::string()});
    if (first == changes_.end() || first->first.first != name) {
      continue;
    }
    auto current = upstream->backends();
    auto next = std::make_shared<BackendSet>();
    for (const auto& b : current->backends) {
      auto it = changes_.find({name, b->address.text});
      if (it != changes_.end() && it->second.kind == Kind::kRemoved) {
        continue;
      }
      if (it != changes_.end()) {
        b->weight.store(it->second.weight);
        b->effective_weight.store(it->second.weight * Backend::kWeightScale);
      }
      next->backends.push_back(b);
    }
    for (auto it = first; it != changes_.end() && it->first.first == name; ++it) {
      if (it->second.kind != Kind::kAdded || next->find(it->first.second)) {
        continue;
      }
      std::string error;
      auto address = util::parseSocketAddress(it->first.second, &error);
      if (!address) {
        LOG_WARN("runtime backend %s of %s: %s", it->first.second.c_str(), name.c_str(),
                 error.c_str());
        continue;
      }
      auto b = std::make_shared<Backend>(*address, it->second.weight);
      b->healthy.store(!upstream->config->health_check);
      next->backends.push_back(std::move(b));
    }
    for (const auto& b : next->backends) {
      next->view.push_back(b.get());
    }
    upstream->publish(std::move(next));
  }
}

}  // namespace balancer
