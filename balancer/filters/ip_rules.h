#pragma once

#include <vector>

#include "balancer/filters/filter.h"
#include "common/util/cidr.h"

namespace balancer::filters {

// A route's allow and deny networks: a client in a deny network, or outside every allow
// network when there are some, gets 403. First in the chain: the cheapest refusal.
class IpRules final : public Filter {
 public:
  IpRules(std::vector<util::Cidr> allow, std::vector<util::Cidr> deny)
      : allow_(std::move(allow)), deny_(std::move(deny)) {}
  std::string_view name() const override { return "ip_rules"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  std::vector<util::Cidr> allow_;
  std::vector<util::Cidr> deny_;
};

}  // namespace balancer::filters
