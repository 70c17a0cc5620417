#pragma once

#include <cstdint>

#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's max_body_size, tighter than limits.max_body_size (which the parser enforces for
// every request): a declared Content-Length over it is refused before anything is sent
// upstream, a chunked body when it grows past it. Either way 413, and the connection closes
// (the rest of the body is not read).
class BodyLimit final : public Filter {
 public:
  explicit BodyLimit(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  std::string_view name() const override { return "body_limit"; }
  Verdict onRequestHead(FilterContext& ctx) override;
  Verdict onRequestBody(FilterContext& ctx, std::string_view piece) override;
  bool wantsRequestBody() const override { return true; }

 private:
  static Verdict tooLarge();
  uint64_t max_bytes_;
};

}  // namespace balancer::filters
