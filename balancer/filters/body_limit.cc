#include "balancer/filters/body_limit.h"

namespace balancer::filters {

Verdict BodyLimit::tooLarge() {
  Verdict verdict = Verdict::reply(413, "request body too large");
  verdict.close = true;
  return verdict;
}

Verdict BodyLimit::onRequestHead(FilterContext& ctx) {
  if (ctx.request.content_length && *ctx.request.content_length > max_bytes_) {
    return tooLarge();
  }
  return Verdict::next();
}

Verdict BodyLimit::onRequestBody(FilterContext& ctx, std::string_view piece) {
  ctx.out.body_bytes += piece.size();
  return ctx.out.body_bytes > max_bytes_ ? tooLarge() : Verdict::next();
}

}  // namespace balancer::filters
