#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "balancer/filters/filter.h"

namespace balancer {

struct Config;
struct ListenerConfig;

namespace filters {

// The filters of one route (or listener), in order, built when the snapshot is built. A
// phase runs the filters one after the other until one does not continue. Request phases
// run first to last; response phases last to first (as Envoy's encoder filters do), so that
// a filter sees the response as the filters after it left it: the cache, before compress in
// the chain, stores the compressed variant. A response a filter made itself (kRespond) goes
// only through the filters before that one (`below` is its index): the others never saw the
// request.
class FilterChain {
 public:
  FilterChain() = default;
  FilterChain(FilterChain&&) = default;
  FilterChain& operator=(FilterChain&&) = default;

  void add(std::unique_ptr<Filter> filter);
  bool empty() const { return filters_.empty(); }
  size_t size() const { return filters_.size(); }
  const Filter& at(size_t i) const { return *filters_[i]; }

  // Runs the request-head phase from the filter at `from` on. Returns the first verdict that
  // is not "continue", with `*stopped_at` the filter's index (a paused chain resumes from
  // the filter after it), or next() when every filter went on.
  Verdict runRequestHead(FilterContext& ctx, size_t from, size_t* stopped_at) const;
  // Runs the request-body phase over the filters that want bodies.
  Verdict runRequestBody(FilterContext& ctx, std::string_view piece) const;
  bool wantsRequestBody() const { return wants_request_body_; }
  // Runs the response-head phase over the filters that want it, from the last below `below`.
  void runResponseHead(FilterContext& ctx, const ResponseFacts& response,
                       size_t below = SIZE_MAX) const;
  bool wantsResponseHead() const { return wants_response_head_; }
  // Runs the response-body phase: `piece` through the filters below `below` that want
  // bodies, last to first, to `client`. With `end` (an empty piece) each filter lets go of
  // what it holds, in that order.
  void runResponseBody(FilterContext& ctx, std::string_view piece, bool end, BodySink& client,
                       size_t below = SIZE_MAX) const;
  bool wantsResponseBody() const { return wants_response_body_; }
  // Whether a response body reaches the client as it is through the filters below `below`:
  // none of them that wants bodies reads or changes this exchange's.
  bool leavesResponseBody(FilterContext& ctx, size_t below = SIZE_MAX) const;
  // Runs the upstream-error phase until a filter sets ctx.out.replacement.
  void runUpstreamError(FilterContext& ctx, const UpstreamErrorFacts& error) const;
  bool wantsUpstreamError() const { return wants_upstream_error_; }
  // Runs the log phase: the exchange is over.
  void runLog(FilterContext& ctx, int status) const;
  bool wantsLog() const { return wants_log_; }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
  bool wants_request_body_ = false;
  bool wants_response_head_ = false;
  bool wants_response_body_ = false;
  bool wants_upstream_error_ = false;
  bool wants_log_ = false;
  // The body phase from the filter below `below` down.
  void passBody(FilterContext& ctx, size_t below, std::string_view piece, bool end,
                BodySink& client) const;
};

// The chains a snapshot holds, one per route and one per listener, in config order.
class CacheZones;
// `zones` (may be null: no route caches) holds the zones a route's `cache:` names.
FilterChain buildRouteChain(const Config& config, size_t route,
                            const CacheZones* zones = nullptr);
FilterChain buildListenerChain(const ListenerConfig& listener);

}  // namespace filters
}  // namespace balancer
