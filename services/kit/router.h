#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/server.h"

namespace kit {

// Path parameters of a matched route ("/api/orders/{id}" -> id). Views into the request's
// path: valid until its response is sent; copy what outlives the handler's own call.
class Params {
 public:
  std::string_view get(std::string_view name) const;
  // The parameter as a positive decimal id, or -1 when it is not one.
  int64_t id(std::string_view name) const;

 private:
  friend class Router;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
};

using RouteHandler = std::function<void(const http::Request&, const Params&, http::Responder)>;

// Method + path pattern -> handler. Patterns are literal segments and {name} segments
// matching one non-empty segment. No match: 404; the path matched but not the method: 405
// with Allow. `route()` of a request names its pattern, for metrics (bounded cardinality).
class Router {
 public:
  void add(std::string_view method, std::string_view pattern, RouteHandler handler);
  // Answers the request. Before the handler runs, *pattern is set to the pattern that serves
  // it ("" for 404/405): a handler may answer at once, and metrics want the pattern then.
  void handle(const http::Request& request, http::Responder responder,
              std::string_view* pattern) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" for parameters
    RouteHandler handler;
  };
  static bool match(const Route& route, std::string_view path, Params* params);

  std::vector<Route> routes_;
};

}  // namespace kit
