#pragma once

#include <memory>
#include <vector>

#include "balancer/upstream/backend.h"
#include "balancer/config.h"
#include "balancer/filters/cache_zones.h"
#include "balancer/filters/filter_chain.h"
#include "balancer/routing/router.h"
#include "common/http/parser.h"

namespace balancer {

// Everything a request needs from the configuration, built once and then read by every
// worker without locks: the config itself, the route table and the upstreams' backends.
class Snapshot {
 public:
  // `previous` (the snapshot a reload replaces, or null) hands over its cache zones that the
  // new config keeps as they were: a reload does not empty the cache.
  explicit Snapshot(Config config, const Snapshot* previous = nullptr);
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const Config& config() const { return config_; }
  const Router& router() const { return router_; }
  const http::ParserLimits& requestLimits() const { return request_limits_; }
  // The headers the balancer sets from tokens: a client's own copies are never forwarded.
  const std::vector<std::string>& identityHeaders() const { return identity_headers_; }
  const std::vector<std::unique_ptr<Upstream>>& upstreams() const { return upstreams_; }
  // The index in upstreams() of the upstream a route sends to (0 for a static route, which
  // sends nowhere: its filter answers every request).
  size_t upstreamOfRoute(size_t route) const { return route_upstream_[route]; }
  // The `upstream` label of a route's metrics: its upstream's name, or "static".
  const std::string& upstreamLabelOfRoute(size_t route) const;
  // The filters a route's requests pass (built from its config), and a listener's, which
  // run before routing.
  const filters::FilterChain& routeFilters(size_t route) const { return route_filters_[route]; }
  const filters::FilterChain& listenerFilters(size_t listener) const {
    return listener_filters_[listener];
  }
  // The cache zones (shared by every worker; one store each).
  const filters::CacheZones& cacheZones() const { return *cache_zones_; }

 private:
  Config config_;
  Router router_;
  http::ParserLimits request_limits_;
  std::vector<std::string> identity_headers_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  std::vector<size_t> route_upstream_;
  std::shared_ptr<const filters::CacheZones> cache_zones_;
  std::vector<filters::FilterChain> route_filters_;
  std::vector<filters::FilterChain> listener_filters_;
};

}  // namespace balancer
