#pragma once

#include <string_view>
#include <vector>

#include "balancer/config.h"

namespace balancer {

// The parts of a request target the router looks at.
struct RequestTarget {
  std::string_view host;  // without port, from the Host header or an absolute-form target
  std::string_view path;  // without the query
  std::string_view query;  // with its leading '?', or empty
};

// Splits "/a/b?x=1" or "http://host:80/a?x" into host, path and query.
RequestTarget splitTarget(std::string_view target, std::string_view host_header);

// The read-only route table. Precedence, highest first: a route naming the host over one that
// does not; an exact path over a prefix; a longer prefix over a shorter; then config order.
// Methods filter: a route whose methods do not include the request's does not match.
class Router {
 public:
  explicit Router(const std::vector<RouteConfig>& routes);

  // Returns the index of the matching route in the config's list, or -1.
  int match(std::string_view host, std::string_view path, std::string_view method) const;

  // Whether `path` falls under `prefix` at a segment boundary: "/api" matches "/api",
  // "/api/x" and "/api?q", not "/apix". A prefix ending in '/' matches plainly.
  static bool prefixMatches(std::string_view prefix, std::string_view path);

 private:
  const std::vector<RouteConfig>& routes_;
  std::vector<int> order_;  // route indices in precedence order
};

}  // namespace balancer
