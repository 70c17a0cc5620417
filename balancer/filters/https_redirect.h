#pragma once

#include "balancer/filters/filter.h"

namespace balancer::filters {

// A listener's redirect_to_https: every request is answered 308 to the same host and target
// on the TLS listener. 308 keeps the method and body, where 301 lets clients turn a POST
// into a GET.
class HttpsRedirect final : public Filter {
 public:
  std::string_view name() const override { return "https_redirect"; }
  Verdict onRequestHead(FilterContext& ctx) override;
};

}  // namespace balancer::filters
