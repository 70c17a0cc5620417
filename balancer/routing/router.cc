#include "balancer/routing/router.h"

#include <algorithm>
#include <vector>

#include "common/http/header_list.h"
#include "common/http/query.h"

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

bool isUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

// Whether the path has a percent-encoding or a "." or ".." segment: most have neither and
// are used as they are, without a copy.
bool needsNormalizing(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      return true;
    }
    if (path[i] == '.' && i > 0 && path[i - 1] == '/') {
      size_t end = i + 1;
      if (end < path.size() && path[end] == '.') {
        ++end;
      }
      if (end == path.size() || path[end] == '/') {
        return true;
      }
    }
  }
  return false;
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

RequestTarget splitTarget(std::string_view target, std::string_view host_header,
                          std::string* normalized_path) {
  RequestTarget out;
  out.host = stripPort(host_header);
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.front() != '/') {
    std::string_view rest = target.substr(scheme + 3);
    size_t slash = rest.find_first_of("/?");
    out.authority = rest.substr(0, slash);
    out.host = stripPort(out.authority);
    target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  if (!out.host.empty() && out.host.back() == '.') {
    out.host.remove_suffix(1);  // "shop.test." is the same name as "shop.test"
  }
  size_t q = target.find('?');
  out.path = target.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  if (normalized_path != nullptr && needsNormalizing(out.path)) {
    out.path_invalid = !normalizePath(out.path, normalized_path);
    out.path = *normalized_path;
  }
  return out;
}

bool normalizePath(std::string_view path, std::string* out) {
  // Percent-encodings first (a "%2E%2E" segment is a ".." one), then dot segments.
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      decoded.push_back(path[i]);
      continue;
    }
    int hi = i + 2 < path.size() ? http::hexValue(path[i + 1]) : -1;
    int lo = i + 2 < path.size() ? http::hexValue(path[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return false;  // "%%36a" would decode to "%6a", which a backend may decode again
    }
    char c = static_cast<char>(hi * 16 + lo);
    if (isUnreserved(c)) {
      decoded.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      decoded.push_back('%');
      decoded.push_back(kHex[hi]);
      decoded.push_back(kHex[lo]);
    }
    i += 2;
  }
  out->clear();
  if (decoded.empty() || decoded.front() != '/') {
    *out = std::move(decoded);  // "*" (OPTIONS): no segments
    return true;
  }
  // Segments after the leading '/', each kept, dropped (".") or undoing the last (".."); a
  // "." or ".." at the end leaves the path ending in '/', as RFC 3986 section 5.2.4 does.
  std::vector<std::string_view> kept;
  std::string_view rest = std::string_view(decoded).substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    bool last = slash == std::string_view::npos;
    if (segment == "..") {
      if (kept.empty()) {
        return false;
      }
      kept.pop_back();
      if (last) {
        kept.emplace_back();
      }
    } else if (segment == ".") {
      if (last) {
        kept.emplace_back();
      }
    } else {
      kept.push_back(segment);
    }
    if (last) {
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  for (std::string_view segment : kept) {
    out->push_back('/');
    out->append(segment);
  }
  if (out->empty()) {
    out->push_back('/');
  }
  return true;
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
