#include "balancer/filters/ip_rules.h"

#include <algorithm>

namespace balancer::filters {

Verdict IpRules::onRequestHead(FilterContext& ctx) {
  auto client = util::IpAddress::parse(ctx.request.client_ip);
  if (!client) {
    return Verdict::reply(403, "forbidden: the client address is unknown");
  }
  auto holds = [&](const util::Cidr& net) { return net.contains(*client); };
  if (std::any_of(deny_.begin(), deny_.end(), holds)) {
    return Verdict::reply(403, "forbidden: the client address is denied on this route");
  }
  if (!allow_.empty() && std::none_of(allow_.begin(), allow_.end(), holds)) {
    return Verdict::reply(403, "forbidden: the client address is not allowed on this route");
  }
  return Verdict::next();
}

}  // namespace balancer::filters
