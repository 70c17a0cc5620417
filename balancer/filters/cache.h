#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "balancer/cache/cache_key.h"
#include "balancer/cache/fill_table.h"
#include "balancer/cache/refresh_set.h"
#include "balancer/cache/storability.h"
#include "balancer/cache/store.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// What the cache did with an exchange: the X-Cache header's value, and a counter each.
enum class CacheResult : uint8_t { kHit, kMiss, kStale, kRevalidated, kBypass };
constexpr std::array<std::string_view, 5> kCacheResults = {"HIT", "MISS", "STALE",
                                                            "REVALIDATED", "BYPASS"};

// One `cache_zones:` entry: its store and its fills, shared by every worker and route naming
// it (and kept across reloads by whoever owns the zones).
struct CacheZone {
  CacheZone(std::string zone_name, const cache::StoreLimits& zone_limits)
      : name(std::move(zone_name)), limits(zone_limits), store(zone_limits) {}
  std::string name;
  cache::StoreLimits limits;
  cache::Store store;
  cache::FillTable fills;
  cache::RefreshSet refreshes;  // stale-while-revalidate refreshes running
  cache::KeyMaker keys;
  std::array<std::atomic<uint64_t>, kCacheResults.size()> results{};  // counted at onLog
};

// A route's `cache:` settings.
struct CacheOptions {
  cache::KeyOptions key;
  cache::StoreOptions store;  // store_set_cookie, the heuristic with default_ttl
};

// The response cache on a route (RFC 9111, a shared cache). At the request head a stored
// response is looked up: fresh (or stale where the request or stale-while-revalidate allows:
// then one background request per key refreshes it, through the same route)
// it is the answer, with Age and X-Cache, after the request's own preconditions and Range
// (304, 412, 206, 416 from the stored response); stale, the request goes on with the stored
// validators (in place of the client's own) and a 304 that names the stored response freshens
// it, which then answers the client's conditions. A miss goes to the origin once per key: later misses
// follow the object the first one fills (or wait for its head, on a worker with a loop
// poster). The response head decides storability; the body is teed into the growing object
// as it goes to the client. An unsafe request that succeeds invalidates its URI and the
// Location / Content-Location on the same host (RFC 9111 4.4). On an upstream error a stored
// response within stale-if-error answers.
class Cache final : public Filter {
 public:
  using Clock = std::function<int64_t()>;  // milliseconds, Unix epoch
  Cache(std::shared_ptr<CacheZone> zone, CacheOptions options, Clock clock = nullptr);

  std::string_view name() const override { return "cache"; }
  Verdict onRequestHead(FilterContext& ctx) override;
  void onResponseHead(FilterContext& ctx, const ResponseFacts& response) override;
  bool wantsResponseHead() const override { return true; }
  void onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                      BodySink& next) override;
  bool wantsResponseBody() const override { return true; }
  void onUpstreamError(FilterContext& ctx, const UpstreamErrorFacts& error) override;
  bool wantsUpstreamError() const override { return true; }
  void onLog(FilterContext& ctx, int status) override;
  bool wantsLog() const override { return true; }

 private:
  struct State;
  Verdict lookup(FilterContext& ctx, State& state);
  Verdict serve(const FilterContext& ctx, State& state,
                std::shared_ptr<const cache::CachedObject> object, CacheResult result);
  Verdict joinFill(FilterContext& ctx, State& state, bool may_fill);
  void invalidate(FilterContext& ctx, const ResponseFacts& response);
  void store(FilterContext& ctx, State& state, const ResponseFacts& response);
  void addValidators(FilterContext& ctx, State& state, const cache::CachedObject& object);
  void startRefresh(FilterContext& ctx, State& state);
  // The stored object as the answer to this request: whole, or a 304, 412, 206 or 416 when
  // the request's own conditions and Range say so (cache/stored_answer.h).
  std::shared_ptr<LocalResponse> responseFor(const FilterContext& ctx,
                                             std::shared_ptr<const cache::CachedObject> object,
                                             CacheResult result) const;
  cache::Key secondaryFor(const FilterContext& ctx, const std::vector<std::string>& vary) const;

  std::shared_ptr<CacheZone> zone_;
  CacheOptions options_;
  Clock clock_;
};

}  // namespace balancer::filters
