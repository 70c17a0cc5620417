#include "balancer/filters/filter_chain.h"

#include <algorithm>

#include "balancer/config.h"
#include "balancer/filters/body_limit.h"
#include "balancer/filters/compress.h"
#include "balancer/filters/cors.h"
#include "balancer/filters/cache.h"
#include "balancer/filters/cache_zones.h"
#include "balancer/filters/https_redirect.h"
#include "balancer/filters/ip_rules.h"
#include "balancer/filters/jwt_auth.h"
#include "balancer/filters/rate_limit.h"
#include "balancer/filters/static_files.h"

namespace balancer::filters {

void FilterChain::add(std::unique_ptr<Filter> filter) {
  wants_request_body_ = wants_request_body_ || filter->wantsRequestBody();
  wants_response_head_ = wants_response_head_ || filter->wantsResponseHead();
  wants_response_body_ = wants_response_body_ || filter->wantsResponseBody();
  wants_upstream_error_ = wants_upstream_error_ || filter->wantsUpstreamError();
  wants_log_ = wants_log_ || filter->wantsLog();
  filters_.push_back(std::move(filter));
}

Verdict FilterChain::runRequestHead(FilterContext& ctx, size_t from, size_t* stopped_at) const {
  for (size_t i = from; i < filters_.size(); ++i) {
    Verdict verdict = filters_[i]->onRequestHead(ctx);
    if (!verdict.goesOn()) {
      *stopped_at = i;
      return verdict;
    }
    if (!verdict.headers.empty() && ctx.out.response_headers != nullptr) {
      ctx.out.response_headers->append(verdict.headers);
    }
  }
  *stopped_at = filters_.size();
  return Verdict::next();
}

Verdict FilterChain::runRequestBody(FilterContext& ctx, std::string_view piece) const {
  for (const auto& filter : filters_) {
    if (!filter->wantsRequestBody()) {
      continue;
    }
    Verdict verdict = filter->onRequestBody(ctx, piece);
    if (!verdict.goesOn()) {
      return verdict;
    }
  }
  return Verdict::next();
}

void FilterChain::runResponseHead(FilterContext& ctx, const ResponseFacts& response,
                                  size_t below) const {
  for (size_t i = std::min(below, filters_.size()); i > 0; --i) {
    Filter& filter = *filters_[i - 1];
    if (filter.wantsResponseHead()) {
      filter.onResponseHead(ctx, response);
    }
  }
}

void FilterChain::runUpstreamError(FilterContext& ctx, const UpstreamErrorFacts& error) const {
  for (size_t i = filters_.size(); i > 0 && !ctx.out.replacement; --i) {
    if (filters_[i - 1]->wantsUpstreamError()) {
      filters_[i - 1]->onUpstreamError(ctx, error);
    }
  }
}

void FilterChain::runLog(FilterContext& ctx, int status) const {
  for (const auto& filter : filters_) {
    if (filter->wantsLog()) {
      filter->onLog(ctx, status);
    }
  }
}

namespace {

// What filter `from - 1` writes goes on to the filters after it.
class NextFilters final : public BodySink {
 public:
  NextFilters(const FilterChain& chain, FilterContext& ctx, size_t from, BodySink& client,
              void (FilterChain::*pass)(FilterContext&, size_t, std::string_view, bool,
                                        BodySink&) const)
      : chain_(chain), ctx_(ctx), from_(from), client_(client), pass_(pass) {}
  void write(std::string_view bytes) override {
    if (!bytes.empty()) {
      (chain_.*pass_)(ctx_, from_, bytes, false, client_);
    }
  }

 private:
  const FilterChain& chain_;
  FilterContext& ctx_;
  size_t from_;
  BodySink& client_;
  void (FilterChain::*pass_)(FilterContext&, size_t, std::string_view, bool, BodySink&) const;
};

}  // namespace

void FilterChain::runResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                                  BodySink& client, size_t below) const {
  passBody(ctx, std::min(below, filters_.size()), piece, end, client);
}

bool FilterChain::leavesResponseBody(FilterContext& ctx, size_t below) const {
  for (size_t i = 0; i < std::min(below, filters_.size()); ++i) {
    if (filters_[i]->wantsResponseBody() && !filters_[i]->leavesResponseBody(ctx)) {
      return false;
    }
  }
  return true;
}

void FilterChain::passBody(FilterContext& ctx, size_t below, std::string_view piece, bool end,
                           BodySink& client) const {
  size_t i = below;
  while (i > 0 && !filters_[i - 1]->wantsResponseBody()) {
    --i;
  }
  if (i == 0) {
    if (!piece.empty()) {
      client.write(piece);
    }
    return;
  }
  NextFilters next(*this, ctx, i - 1, client, &FilterChain::passBody);
  filters_[i - 1]->onResponseBody(ctx, piece, end, next);
  if (end) {
    passBody(ctx, i - 1, {}, true, client);  // then the filters before it let go, in turn
  }
}

// The order is the order of the questions: may this address ask at all (cheapest), is it a
// browser's preflight (answered before any token: preflights carry none), is the request too
// big (nothing else needs to be read), who sends it (the token), may they send it now (a
// limit keyed by user needs the token's sub), then is there a stored answer (only for
// requests let through; before compress, so the cache stores what compress made of a
// response), compress (response phases run last to first, so it is the first to see the
// upstream's response), and on a static route the files last: they answer what passed, and
// compress may encode them.
FilterChain buildRouteChain(const Config& config, size_t route, const CacheZones* zones) {
  const RouteConfig& rc = config.routes[route];
  FilterChain chain;
  if (!rc.allow.empty() || !rc.deny.empty()) {
    chain.add(std::make_unique<IpRules>(rc.allow, rc.deny));
  }
  if (rc.cors) {
    chain.add(std::make_unique<Cors>(*rc.cors));
  }
  if (rc.max_body_size) {
    chain.add(std::make_unique<BodyLimit>(*rc.max_body_size));
  }
  if (rc.auth != AuthMode::kNone) {
    static const std::vector<std::pair<std::string, std::string>> kNoClaims;
    int64_t leeway_s = config.jwt ? config.jwt->leeway.count() / 1000 : 0;
    chain.add(std::make_unique<JwtAuth>(rc.auth, rc.require_roles,
                                        config.jwt ? config.jwt->claims_to_headers : kNoClaims,
                                        leeway_s));
  }
  if (rc.rate_limit) {
    chain.add(std::make_unique<RateLimit>(
        *rc.rate_limit, config.redis ? config.redis->on_unavailable
                                     : RedisConfig::OnUnavailable::kAllow));
  }
  if (rc.cache && zones != nullptr) {
    if (std::shared_ptr<CacheZone> zone = zones->find(rc.cache->zone)) {
      chain.add(std::make_unique<Cache>(std::move(zone), cacheOptionsOf(*rc.cache)));
    }
  }
  if (rc.compress) {
    chain.add(std::make_unique<Compress>(*rc.compress));
  }
  if (rc.static_files) {
    chain.add(std::make_unique<StaticFiles>(*rc.static_files, rc.strip_prefix));
  }
  return chain;
}

FilterChain buildListenerChain(const ListenerConfig& listener) {
  FilterChain chain;
  if (listener.redirect_to_https) {
    chain.add(std::make_unique<HttpsRedirect>());
  }
  return chain;
}

}  // namespace balancer::filters
