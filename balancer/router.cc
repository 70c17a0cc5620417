#include "balancer/router.h"

#include <algorithm>

#include "common/http/header_list.h"

namespace balancer {

namespace {
std::string_view stripPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool hostMatches(std::string_view pattern, std::string_view host) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() &&
           http::equalsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return http::equalsIgnoreCase(pattern, host);
}
}  // namespace

RequestTarget splitTarget(std::string_view target, std::string_view host_header) {
  RequestTarget out;
  out.host = stripPort(host_header);
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.front() != '/') {
    std::string_view rest = target.substr(scheme + 3);
    size_t slash = rest.find_first_of("/?");
    out.host = stripPort(rest.substr(0, slash));
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  size_t q = target.find('?');
  out.path = target.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  return out;
}

Router::Router(const std::vector<RouteConfig>& routes) : routes_(routes) {
  for (size_t i = 0; i < routes.size(); ++i) {
    order_.push_back(static_cast<int>(i));
  }
  std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
    const RouteConfig& x = routes[static_cast<size_t>(a)];
    const RouteConfig& y = routes[static_cast<size_t>(b)];
    if (x.host.empty() != y.host.empty()) {
      return !x.host.empty();
    }
    if (x.path.empty() != y.path.empty()) {
      return !x.path.empty();
    }
    return x.path_prefix.size() > y.path_prefix.size();
  });
}

bool Router::prefixMatches(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) {
    return false;
  }
  if (path.size() == prefix.size() || prefix.back() == '/') {
    return true;
  }
  return path[prefix.size()] == '/';
}

int Router::match(std::string_view host, std::string_view path, std::string_view method) const {
  for (int index : order_) {
    const RouteConfig& r = routes_[static_cast<size_t>(index)];
    if (!r.host.empty() && !hostMatches(r.host, host)) {
      continue;
    }
    if (!r.path.empty() ? path != r.path : !prefixMatches(r.path_prefix, path)) {
      continue;
    }
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end()) {
      continue;
    }
    return index;
  }
  return -1;
}

}  // namespace balancer
