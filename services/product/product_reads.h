#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/http/server.h"
#include "common/metrics/exposition.h"
#include "services/kit/pg_pool.h"
#include "services/kit/router.h"
#include "services/product/list_query.h"
#include "services/product/product_cache.h"
#include "services/product/single_flight.h"

namespace product {

// GET /api/products/{id} and GET /api/products: Redis first (a hit sends the stored body as
// it is, without touching PostgreSQL or the thread pool), else one load from PostgreSQL per
// key however many requests miss it at once (SingleFlight), stored in Redis and sent to every
// one of them. Every answer carries X-Cache: HIT or MISS.
class ProductReads {
 public:
  ProductReads(kit::PgPool& db, ProductCache& cache) : db_(db), cache_(cache) {}

  void get(const http::Request& request, const kit::Params& params, http::Responder responder);
  void list(const http::Request& request, const kit::Params& params, http::Responder responder);

  void collect(metrics::Exposition& out) const;

 private:
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
  SingleFlight<http::Response> product_flights_;
  SingleFlight<http::Response> list_flights_;
  Lookups product_lookups_;
  Lookups list_lookups_;
};

}  // namespace product
