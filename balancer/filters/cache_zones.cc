#include "balancer/filters/cache_zones.h"

#include "balancer/config.h"

namespace balancer::filters {

std::shared_ptr<const CacheZones> CacheZones::reconcile(const CacheZones* previous,
                                                        const Config& config) {
  auto zones = std::make_shared<CacheZones>();
  for (const CacheZoneConfig& zc : config.cache_zones) {
    cache::StoreLimits limits;
    limits.memory = zc.memory;
    limits.max_object = zc.max_object;
    std::shared_ptr<CacheZone> kept = previous ? previous->find(zc.name) : nullptr;
    if (kept && kept->limits.memory == limits.memory &&
        kept->limits.max_object == limits.max_object) {
      zones->zones_[zc.name] = std::move(kept);
    } else {
      zones->zones_[zc.name] = std::make_shared<CacheZone>(zc.name, limits);
    }
  }
  return zones;
}

std::shared_ptr<CacheZone> CacheZones::find(const std::string& name) const {
  auto it = zones_.find(name);
  return it == zones_.end() ? nullptr : it->second;
}

CacheOptions cacheOptionsOf(const RouteCacheConfig& config) {
  CacheOptions options;
  options.key.headers = config.key_headers;
  options.key.cookies = config.key_cookies;
  options.key.ignore_query = config.ignore_query;
  options.store.store_set_cookie = config.store_set_cookie;
  options.store.heuristic.default_ttl_s = config.default_ttl.count() / 1000;
  return options;
}

}  // namespace balancer::filters
