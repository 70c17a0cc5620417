#pragma once

#include "common/http/server.h"
#include "services/kit/pg_pool.h"
#include "services/kit/router.h"
#include "services/product/product_cache.h"

namespace product {

// POST, PUT and DELETE /api/products (role admin). Each write commits in PostgreSQL, then
// invalidates the cache (the product's entry and every list page) before it answers, so the
// writer's next read sees what it wrote.
class ProductWrites {
 public:
  ProductWrites(kit::PgPool& db, ProductCache& cache) : db_(db), cache_(cache) {}

  // {name, description?, price, stock?} -> 201 with the product and its Location.
  void create(const http::Request& request, const kit::Params& params, http::Responder responder);
  // Any of {name, description, price, stock} -> 200 with the product; 404 when unknown.
  void update(const http::Request& request, const kit::Params& params, http::Responder responder);
  // Soft delete -> 204; 404 when unknown or deleted already.
  void remove(const http::Request& request, const kit::Params& params, http::Responder responder);

 private:
  kit::PgPool& db_;
  ProductCache& cache_;
};

}  // namespace product
