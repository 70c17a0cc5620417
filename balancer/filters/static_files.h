#pragma once

#include "balancer/config.h"
#include "balancer/filters/filter.h"
#include "balancer/static_files/file_server.h"

namespace balancer::filters {

// A static route's last filter: it answers every request that reaches it from the files
// under the route's root (static_files::FileServer), so nothing goes upstream. It sits after
// the route's other filters: a token or a rate limit is checked before a file is served, and
// compress and the cache, before it, see its responses.
class StaticFiles final : public Filter {
 public:
  StaticFiles(const StaticFilesConfig& config, const std::string& strip_prefix)
      : server_(config.root, config.index, strip_prefix) {}
  std::string_view name() const override { return "static"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  static_files::FileServer server_;
};

}  // namespace balancer::filters
