#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "balancer/config.h"
#include "common/tls/server_context.h"

namespace balancer {

// What a worker needs to know about the listener a connection came in on. The TLS context
// is swapped on SIGHUP (certificates reloaded); a connection keeps the one it started with.
struct ListenerRuntime {
  const ListenerConfig* config = nullptr;
  std::atomic<std::shared_ptr<const tls::ServerContext>> tls;  // empty for plain HTTP
  int https_port = 443;  // where redirect_to_https sends clients
  int port = 0;          // the bound port: the kernel's pick when the address says port 0
};

// A configuration's listeners, in its order. Shared: each worker holds the list of every
// snapshot its sessions still use, and the last holder frees it.
using ListenerRuntimes = std::vector<std::unique_ptr<ListenerRuntime>>;

// Whether a listener of a reloaded configuration is the running one (keeps its sockets): the
// same address, and for port 0 (which names no port: several listeners may say IP:0) also the
// same name.
inline bool sameListener(const ListenerConfig& a, const ListenerConfig& b) {
  return a.address.text == b.address.text && (a.address.port() != 0 || a.name == b.name);
}

}  // namespace balancer
