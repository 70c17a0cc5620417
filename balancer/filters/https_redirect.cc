#include "balancer/filters/https_redirect.h"

namespace balancer::filters {

Verdict HttpsRedirect::onRequestHead(FilterContext& ctx) {
  const RequestFacts& req = ctx.request;
  // The target as sent (not normalized): the client gets back what it asked for.
  RequestTarget target =
      splitTarget(req.raw_target, req.headers->find(http::HeaderKind::kHost));
  if (target.host.empty() || target.path.empty() || target.path.front() != '/') {
    // No host to send the client to (HTTP/1.0 without Host), or a target that is no path
    // ("*"): "https:///x" would be no URL at all.
    return Verdict::reply(400, "a redirect to https needs a Host and a path");
  }
  std::string location = "Location: https://";
  location.append(target.host);
  if (req.https_port != 443) {
    location.append(":").append(std::to_string(req.https_port));
  }
  location.append(target.path).append(target.query).append("\r\n");
  return Verdict::reply(308, "use https", std::move(location));
}

}  // namespace balancer::filters
