#pragma once

#include <string>

#include "balancer/config.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's CORS rules (the Fetch standard). A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from a listed origin is answered here, 204, without
// reaching the upstream or needing a token; one asking for a method or header not allowed,
// or from an origin not listed, gets 403 without any Access-Control header. An actual
// request from a listed origin gets Access-Control-Allow-Origin (and -Credentials,
// -Expose-Headers) on its response; from any other origin, nothing. Vary: Origin goes on
// every response when the answer depends on the origin, so a cache keeps them apart.
class Cors final : public Filter {
 public:
  explicit Cors(CorsConfig config);
  std::string_view name() const override { return "cors"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  bool originListed(std::string_view origin) const;
  // Access-Control-Allow-Origin (and -Credentials) for `origin`.
  std::string allowOrigin(std::string_view origin) const;
  Verdict preflight(FilterContext& ctx, std::string_view origin) const;

  CorsConfig config_;
  bool any_origin_ = false;  // "*" is listed
  std::string methods_;      // joined for Access-Control-Allow-Methods
  std::string expose_;       // the Access-Control-Expose-Headers line, or empty
};

}  // namespace balancer::filters
