#pragma once

#include <atomic>
#include <memory>

#include "balancer/config.h"
#include "common/tls/server_context.h"

namespace balancer {

// What a worker needs to know about the listener a connection came in on. The TLS context
// is swapped on SIGHUP (certificates reloaded); a connection keeps the one it started with.
struct ListenerRuntime {
  const ListenerConfig* config = nullptr;
  std::atomic<std::shared_ptr<const tls::ServerContext>> tls;  // empty for plain HTTP
  int https_port = 443;  // where redirect_to_https sends clients
};

}  // namespace balancer
