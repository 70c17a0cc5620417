#pragma once

// The key tables, one per section of the configuration file. Each is built once, on first use.

#include "balancer/config/config.h"
#include "balancer/config/key_table.h"

namespace balancer::config {

const Section<Config>& configKeys();          // the top level (config_keys.cc)
const Section<ListenerConfig>& listenerKeys();  // listeners[], with tls (listener_keys.cc)
const Section<UpstreamConfig>& upstreamKeys();  // upstreams.NAME (upstream_keys.cc)
const Section<RouteConfig>& routeKeys();        // routes[] (route_keys.cc)

}  // namespace balancer::config
