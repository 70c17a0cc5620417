#include "balancer/snapshot.h"

#include "balancer/filters/filter_chain.h"

namespace balancer {

Snapshot::Snapshot(Config config, const Snapshot* previous)
    : config_(std::move(config)), router_(config_.routes) {
  request_limits_.max_header_bytes = config_.limits.max_header_bytes;
  request_limits_.max_headers = config_.limits.max_headers;
  request_limits_.max_body_size = config_.limits.max_body_size;
  if (config_.jwt) {
    for (const auto& [claim, header] : config_.jwt->claims_to_headers) {
      identity_headers_.push_back(header);
    }
  }
  for (const UpstreamConfig& uc : config_.upstreams) {
    auto u = std::make_unique<Upstream>();
    u->config = &uc;
    auto set = std::make_shared<BackendSet>();
    for (const BackendConfig& bc : uc.backends) {
      set->backends.push_back(std::make_shared<Backend>(bc.address, bc.weight));
      set->view.push_back(set->backends.back().get());
    }
    u->publish(std::move(set));
    upstreams_.push_back(std::move(u));
  }
  for (const RouteConfig& r : config_.routes) {
    size_t index = 0;
    for (size_t i = 0; i < config_.upstreams.size(); ++i) {
      if (config_.upstreams[i].name == r.upstream) {
        index = i;
      }
    }
    route_upstream_.push_back(index);
  }
  cache_zones_ = filters::CacheZones::reconcile(
      previous != nullptr ? previous->cache_zones_.get() : nullptr, config_);
  for (size_t i = 0; i < config_.routes.size(); ++i) {
    route_filters_.push_back(filters::buildRouteChain(config_, i, cache_zones_.get()));
  }
  for (const ListenerConfig& listener : config_.listeners) {
    listener_filters_.push_back(filters::buildListenerChain(listener));
  }
}

const std::string& Snapshot::upstreamLabelOfRoute(size_t route) const {
  static const std::string kStatic = "static";
  if (config_.routes[route].static_files) {
    return kStatic;
  }
  return config_.upstreams[route_upstream_[route]].name;
}

}  // namespace balancer
