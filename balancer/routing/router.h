#pragma once

#include <string_view>
#include <vector>

#include "balancer/config.h"

namespace balancer {

// The parts of a request target the router looks at.
struct RequestTarget {
  std::string_view host;  // without port and trailing dot, from Host or an absolute-form target
  std::string_view path;  // without the query
  std::string_view query;  // with its leading '?', or empty
  // An absolute-form target's authority (host and port): it replaces the Host header
  // (RFC 9112 section 3.2.2). Empty for the origin form.
  std::string_view authority;
  // A '%' not followed by two hex digits, or ".." segments that climb above the root: a 400
  // (decoding such a path once or twice would give two different paths).
  bool path_invalid = false;
};

// Splits "/a/b?x=1" or "http://host:80/a?x" into host, path and query. With
// `normalized_path`, a path that needs it is normalized into that string (RFC 3986 section
// 6.2.2: percent-encoded unreserved characters decoded, other percent-encodings in upper case,
// "." and ".." segments removed), so routes match what a backend will understand, and the
// normalized path is what is forwarded.
RequestTarget splitTarget(std::string_view target, std::string_view host_header,
                          std::string* normalized_path = nullptr);

// Normalizes an origin-form path as splitTarget does into *out. Returns false when it has a
// '%' without two hex digits after it, or ".." segments that climb above the root.
bool normalizePath(std::string_view path, std::string* out);

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
