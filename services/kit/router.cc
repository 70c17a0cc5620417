#include "services/kit/router.h"

#include <charconv>

#include "services/kit/reply.h"

namespace kit {

std::string_view Params::get(std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

int64_t Params::id(std::string_view name) const {
  std::string_view text = get(name);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || out <= 0) {
    return -1;
  }
  return out;
}

void Router::add(std::string_view method, std::string_view pattern, RouteHandler handler) {
  Route route{std::string(method), std::string(pattern), {}, std::move(handler)};
  size_t start = 1;
  while (start <= pattern.size()) {
    size_t slash = pattern.find('/', start);
    route.segments.emplace_back(
        pattern.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  routes_.push_back(std::move(route));
}

bool Router::match(const Route& route, std::string_view path, Params* params) {
  params->values_.clear();
  if (path.empty() || path[0] != '/') {
    return false;
  }
  size_t start = 1;
  for (size_t i = 0; i < route.segments.size(); ++i) {
    if (start > path.size()) {
      return false;
    }
    size_t slash = path.find('/', start);
    bool last = i + 1 == route.segments.size();
    if (last != (slash == std::string_view::npos)) {
      return false;
    }
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    const std::string& want = route.segments[i];
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (segment.empty()) {
        return false;
      }
      params->values_.emplace_back(std::string_view(want).substr(1, want.size() - 2), segment);
    } else if (segment != want) {
      return false;
    }
    start = slash == std::string_view::npos ? path.size() + 1 : slash + 1;
  }
  return true;
}

void Router::handle(const http::Request& request, http::Responder responder,
                    std::string_view* pattern) const {
  *pattern = {};
  Params params;
  std::string allow;
  for (const Route& route : routes_) {
    if (!match(route, request.path, &params)) {
      continue;
    }
    if (route.method == request.method_name ||
        (request.method_name == "HEAD" && route.method == "GET")) {
      *pattern = route.pattern;
      route.handler(request, params, std::move(responder));
      return;
    }
    if (!allow.empty()) {
      allow += ", ";
    }
    allow += route.method;
  }
  if (!allow.empty()) {
    http::Response r = errorResponse(405, "method not allowed");
    r.headers.emplace_back("Allow", allow);
    responder.send(std::move(r));
    return;
  }
  responder.send(errorResponse(404, "not found"));
}

}  // namespace kit
