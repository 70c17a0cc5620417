#include "balancer/filters/static_files.h"

namespace balancer::filters {

Verdict StaticFiles::onRequestHead(FilterContext& ctx) {
  return server_.serve(ctx.request, ctx.services->loop());
}

}  // namespace balancer::filters
