// Server: its hooks for the admin API, runtime backends and DNS discovery, kept here so
// server.cc only calls them.
#include <unistd.h>

#include "balancer/server/server.h"
#include "common/log/log.h"

namespace balancer {

bool Server::startControl() {
  control_ = std::make_unique<Control>(&loop_, snapshot_.get(), health_checker_.get(), [this] {
    if (shutting_down_) {
      return;  // workers close their loops once drained: no wake-ups then
    }
    for (auto& worker : workers_) {
      worker->wakeUpstreams();
    }
  });
  const Config& config = snapshot_->config();
  if (config.admin_address) {
    // Bound before anything else starts: a failure is a plain startup error.
    MetricsRegistry* registry = metrics_.get();
    admin_ = std::make_unique<AdminServer>(&loop_, control_.get(),
                                           AdminAccess(config.admin_token,
                                                       config.admin_allowed_hosts),
                                           [registry] { return registry->render(); });
    int r = admin_->listen(*config.admin_address);
    if (r != 0) {
      LOG_ERROR("admin: cannot listen on %s: %s", config.admin_address->text.c_str(),
                uv_strerror(r));
      return false;
    }
    LOG_INFO("admin listening address=%s port=%d%s", config.admin_address->text.c_str(),
             admin_->port(), config.admin_token.empty() ? "" : " (bearer token required)");
  }
  control_->start();
  discovery_ = std::make_unique<DnsDiscovery>(&loop_, control_.get());
  discovery_->start(*snapshot_);
  metrics_->setDnsDiscovery(discovery_.get());
  return true;
}

void Server::stopControl() {
  if (admin_) {
    admin_->close();
  }
  if (discovery_) {
    discovery_->stop();
  }
  if (control_) {
    control_->stop();
  }
}

}  // namespace balancer
