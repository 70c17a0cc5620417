#pragma once

#include <map>
#include <memory>
#include <string>

#include "balancer/filters/cache.h"

namespace balancer {
struct Config;
struct RouteCacheConfig;
}  // namespace balancer

namespace balancer::filters {

// The configuration's `cache_zones`, each a CacheZone shared by every worker and route. A
// reload keeps a zone (and what it holds) when its name and sizes are unchanged.
class CacheZones {
 public:
  // The zones `config` declares, taking over those of `previous` (may be null) that match.
  static std::shared_ptr<const CacheZones> reconcile(const CacheZones* previous,
                                                     const Config& config);

  std::shared_ptr<CacheZone> find(const std::string& name) const;
  size_t size() const { return zones_.size(); }
  const std::map<std::string, std::shared_ptr<CacheZone>>& all() const { return zones_; }

 private:
  std::map<std::string, std::shared_ptr<CacheZone>> zones_;
};

// A route's `cache:` as the filter takes it.
CacheOptions cacheOptionsOf(const RouteCacheConfig& config);

}  // namespace balancer::filters
