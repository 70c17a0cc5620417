// product-service: the catalogue. Reads go through a Redis cache-aside (with single flight on
// misses); writes (role admin) go to PostgreSQL and invalidate the cache.
//
// Settings of its own are declared below (the kit's: services/kit/settings.h).

#include "common/log/log.h"
#include "services/kit/app.h"
#include "services/kit/setting.h"
#include "services/product/product_cache.h"
#include "services/product/product_reads.h"
#include "services/product/product_store.h"
#include "services/product/product_writes.h"

namespace {

// Defaults: those of ProductCache::Options.
const product::ProductCache::Options kCacheDefaults{};
const kit::Setting<util::Millis> kCacheTtl{"cache.ttl", util::Millis(kCacheDefaults.ttl_ms),
                                           "how long a product or list page stays cached"};
const kit::Setting<util::Millis> kCacheNegativeTtl{
    "cache.negative_ttl", util::Millis(kCacheDefaults.negative_ttl_ms),
    "how long a 404 stays cached (0s: not cached)"};

// What product reads tell the caches in front (the balancer's edge cache, browsers). Short
// beside cache.ttl on purpose: Redis is invalidated by every write, an edge cache only by the
// writes that pass through that one balancer, and only for the URIs written (not the list
// pages with their queries, not other balancers' caches). So the edge's max-age is how stale
// a read may be after a write, while each edge refresh costs the service one Redis hit (the
// entry the edge was filled from lives cache.ttl, far longer), or a 304 when nothing changed.
// stale-while-revalidate is three times max-age: a hot key is refreshed in the background.
const product::ProductReads::Options kReadDefaults{};
const kit::Setting<util::Millis> kEdgeMaxAge{
    "cache.edge_max_age", util::Millis(kReadDefaults.product.max_age_s * 1000),
    "Cache-Control max-age of a product read (stale-while-revalidate: 3x)"};
const kit::Setting<util::Millis> kEdgeListMaxAge{
    "cache.edge_list_max_age", util::Millis(kReadDefaults.list.max_age_s * 1000),
    "Cache-Control max-age of a product list page (stale-while-revalidate: 3x)"};

product::Freshness freshness(util::Millis max_age) {
  auto seconds = static_cast<uint32_t>(max_age.count() / 1000);
  return {seconds, 3 * seconds};
}

}  // namespace

int main(int argc, char** argv) {
  kit::App app("product-service", "127.0.0.1:7101", argc, argv);

  product::ProductCache::Options cache_options;
  cache_options.ttl_ms = static_cast<uint64_t>(app.config().get(kCacheTtl).count());
  cache_options.negative_ttl_ms =
      static_cast<uint64_t>(app.config().get(kCacheNegativeTtl).count());

  kit::PgPool& db = app.database(product::productStatements());
  product::ProductCache cache(app.redis(), cache_options);
  product::ProductReads::Options read_options;
  read_options.product = freshness(app.config().get(kEdgeMaxAge));
  read_options.list = freshness(app.config().get(kEdgeListMaxAge));
  read_options.not_found_max_age_s = static_cast<uint32_t>(cache_options.negative_ttl_ms / 1000);
  product::ProductReads reads(db, cache, read_options);
  product::ProductWrites writes(db, cache);

  // The contract's paths, and the same without /api for a balancer route with
  // strip_prefix: /api (as in config/balancer.example.yaml).
  for (std::string_view prefix : {"/api/products", "/products"}) {
    std::string collection(prefix);
    std::string item = collection + "/{id}";
    kit::Router& router = app.router();
    router.add("GET", collection,
               [&](const http::Request& req, const kit::Params& params, http::Responder r) {
                 reads.list(req, params, std::move(r));
               });
    router.add("POST", collection,
               [&](const http::Request& req, const kit::Params& params, http::Responder r) {
                 writes.create(req, params, std::move(r));
               });
    router.add("GET", item,
               [&](const http::Request& req, const kit::Params& params, http::Responder r) {
                 reads.get(req, params, std::move(r));
               });
    router.add("PUT", item,
               [&](const http::Request& req, const kit::Params& params, http::Responder r) {
                 writes.update(req, params, std::move(r));
               });
    router.add("DELETE", item,
               [&](const http::Request& req, const kit::Params& params, http::Responder r) {
                 writes.remove(req, params, std::move(r));
               });
  }

  app.metrics().addCollector([&](metrics::Exposition& out) {
    reads.collect(out);
    cache.collect(out);
  });
  app.onShutdown([&cache] { cache.close(); });
  LOG_INFO("cache ttl %llu ms, negative ttl %llu ms",
           static_cast<unsigned long long>(cache_options.ttl_ms),
           static_cast<unsigned long long>(cache_options.negative_ttl_ms));
  return app.run();
}
