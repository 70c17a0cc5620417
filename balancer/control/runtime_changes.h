#pragma once

#include <map>
#include <string>
#include <utility>

namespace balancer {

class Snapshot;

// What the admin API changed in the upstreams' backend sets, kept so that a reload of the
// configuration can apply it again. The rule: runtime changes win over the YAML until the
// process restarts. A backend added at run time stays (with its runtime weight) even if the
// new YAML does not list it; one removed at run time stays removed even if the YAML lists it;
// a runtime weight replaces the YAML's. Changes to an upstream the new YAML no longer has are
// dropped.
class RuntimeChanges {
 public:
  enum class Kind { kAdded, kRemoved, kWeight };
  struct Change {
    Kind kind;
    int weight = 1;
  };
  using Key = std::pair<std::string, std::string>;  // upstream name, backend address text

  void added(const std::string& upstream, const std::string& address, int weight);
  void removed(const std::string& upstream, const std::string& address);
  void weighted(const std::string& upstream, const std::string& address, int weight);

  const std::map<Key, Change>& changes() const { return changes_; }

  // Applies the changes to a freshly built snapshot, before any worker uses it: publishes
  // each changed upstream's new backend set. New backends start healthy unless the upstream
  // has a health check (the checker then brings them up).
  void applyTo(Snapshot& snapshot) const;
  // Drops the changes to upstreams the snapshot has not: once a reload has committed a
  // config without an upstream, its runtime changes are gone, even if it comes back later.
  void forgetAbsent(const Snapshot& snapshot);

 private:
  std::map<Key, Change> changes_;
};

}  // namespace balancer
