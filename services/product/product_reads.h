#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/server.h"
#include "common/metrics/exposition.h"
#include "services/kit/pg_pool.h"
#include "services/kit/router.h"
#include "services/product/list_query.h"
#include "services/product/product_cache.h"
#include "services/product/representation.h"
#include "services/product/single_flight.h"

namespace product {

// GET /api/products/{id} and GET /api/products: Redis first (a hit sends the stored body as
// it is, without touching PostgreSQL or the thread pool), else one load from PostgreSQL per
// key however many requests miss it at once (SingleFlight), stored in Redis and sent to every
// one of them. Every answer carries X-Cache: HIT or MISS.
//
// For the caches in front (the balancer's edge cache, browsers) a 200 carries Cache-Control,
// a strong ETag over its bytes, Date, and Last-Modified for a product; an If-None-Match that
// names the ETag is answered 304 without the body. A 404 is public for as long as Redis keeps
// it (cache.negative_ttl).
class ProductReads {
 public:
  // How long caches in front may reuse a read (settings cache.edge_max_age and
  // cache.edge_list_max_age, see main.cc for why these defaults).
  struct Options {
    Freshness product{10, 30};
    Freshness list{5, 15};
    uint32_t not_found_max_age_s = 5;
  };

  ProductReads(kit::PgPool& db, ProductCache& cache, Options options)
      : db_(db), cache_(cache), options_(options) {}

  void get(const http::Request& request, const kit::Params& params, http::Responder responder);
  void list(const http::Request& request, const kit::Params& params, http::Responder responder);

  void collect(metrics::Exposition& out) const;

 private:
  enum class Kind { kProduct, kList };

  // A stored body (or the 404 marker) as the response sent, with its cache fields.
  http::Response bodyResponse(std::string_view body, bool hit, Kind kind) const;

  struct Lookups {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t unavailable = 0;  // Redis down: straight to PostgreSQL
  };

  // Loads the product as the leader of its flight; `cached`: Redis answered the lookup.
  void loadProduct(int64_t id, const std::string& key, bool cached);
  // Loads a list page as the leader of its flight; version nullopt: Redis is down.
  void loadList(const ListQuery& query, const std::string& key, std::optional<std::string> version);

  kit::PgPool& db_;
  ProductCache& cache_;
  Options options_;
  SingleFlight<http::Response> product_flights_;
  SingleFlight<http::Response> list_flights_;
  Lookups product_lookups_;
  Lookups list_lookups_;
};

}  // namespace product
