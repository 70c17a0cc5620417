#pragma once

#include <pqxx/connection>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/product/list_query.h"
#include "services/product/product_input.h"

namespace product {

// The products table. Every function blocks on PostgreSQL: call them from PgPool work (the
// uv thread pool), never on the loop. Results come back as the JSON bodies the service sends
// (and caches), serialized on the pool thread so that the loop only copies bytes.
//
// A product's JSON: {"id","name","description","price","stock","created_at","updated_at"}
// with price in rupiah as an integer and times in ISO 8601 UTC with milliseconds.

// The prepared statements these functions use, for App::database().
std::vector<std::pair<std::string, std::string>> productStatements();

// The product's JSON, or nullopt when it does not exist or was deleted.
std::optional<std::string> fetchProduct(pqxx::connection& conn, int64_t id);

// A list page's JSON: {"items":[...],"limit","offset","has_more"}. has_more says whether a
// product follows the page (one extra row read), which costs nothing where a total would
// count every match. `empty`: the page has no item (not cached: a flood of searches that
// match nothing would otherwise fill Redis with one entry each).
struct ListPage {
  std::string body;
  bool empty = true;
};
ListPage fetchList(pqxx::connection& conn, const ListQuery& query);

// Inserts; returns the new product's id and JSON.
std::pair<int64_t, std::string> insertProduct(pqxx::connection& conn, const ProductInput& input);

// Sets the given fields; nullopt when the product does not exist or was deleted.
std::optional<std::string> updateProduct(pqxx::connection& conn, int64_t id,
                                         const ProductInput& input);

// Soft delete (deleted_at = now()); false when it does not exist or was deleted already.
bool deleteProduct(pqxx::connection& conn, int64_t id);

}  // namespace product
