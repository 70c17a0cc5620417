#pragma once

#include <vector>

#include "balancer/config/config.h"
#include "balancer/config/reader.h"

namespace balancer::config {

// The checks that need more than one value, run once the whole file is read: each listener's
// name once, no redirect from a TLS listener, health check and ejection times in order, each
// route's match, upstream, strip_prefix, auth, roles and rate limit consistent with the rest.
// Appends one error per broken rule at the position of the value it is about.
void validate(const Config& config, const Positions& at, std::vector<ConfigError>* errors);

}  // namespace balancer::config
