#include "services/product/product_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace product {

// Each function runs one statement, so a nontransaction (autocommit) is as atomic as a
// transaction and saves the BEGIN and COMMIT round trips.

namespace {

using OrderedJson = nlohmann::ordered_json;

// The columns every statement returns, in the order productJson() reads them. Times are
// formatted here so that the JSON does not depend on the session's TimeZone.
constexpr const char* kColumns =
    "id, name, description, price, stock, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

OrderedJson productJson(const pqxx::row& row) {
  return OrderedJson{{"id", row[0].as<int64_t>()},
                     {"name", row[1].as<std::string>()},
                     {"description", row[2].as<std::string>()},
                     {"price", row[3].as<int64_t>()},
                     {"stock", row[4].as<int64_t>()},
                     {"created_at", row[5].as<std::string>()},
                     {"updated_at", row[6].as<std::string>()}};
}

std::string dump(const OrderedJson& json) {
  return json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> productStatements() {
  std::string cols = kColumns;
  std::string returning = " RETURNING " + cols;
  return {
      {"product_get", "SELECT " + cols + " FROM products WHERE id = $1 AND deleted_at IS NULL"},
      // Both lists follow the partial indexes of 0001: products_list_idx and, for the
      // substring filter, products_name_trgm_idx.
      {"product_list",
       "SELECT " + cols + " FROM products WHERE deleted_at IS NULL ORDER BY id LIMIT $1 OFFSET $2"},
      {"product_search", "SELECT " + cols +
                             " FROM products WHERE deleted_at IS NULL AND name ILIKE $3"
                             " ORDER BY id LIMIT $1 OFFSET $2"},
      {"product_insert",
       "INSERT INTO products (name, description, price, stock)"
       " VALUES ($1, COALESCE($2, ''), $3, COALESCE($4, 0))" +
           returning},
      {"product_update",
       "UPDATE products SET name = COALESCE($2, name),"
       " description = COALESCE($3, description),"
       " price = COALESCE($4, price), stock = COALESCE($5, stock)"
       " WHERE id = $1 AND deleted_at IS NULL" +
           returning},
      {"product_delete",
       "UPDATE products SET deleted_at = now()"
       " WHERE id = $1 AND deleted_at IS NULL RETURNING id"},
  };
}

std::optional<std::string> fetchProduct(pqxx::connection& conn, int64_t id) {
  pqxx::nontransaction tx(conn);
  pqxx::result rows = tx.exec_prepared("product_get", id);
  tx.commit();
  if (rows.empty()) {
    return std::nullopt;
  }
  return dump(productJson(rows[0]));
}

ListPage fetchList(pqxx::connection& conn, const ListQuery& query) {
  pqxx::nontransaction tx(conn);
  pqxx::result rows = query.q.empty()
                          ? tx.exec_prepared("product_list", query.limit + 1, query.offset)
                          : tx.exec_prepared("product_search", query.limit + 1, query.offset,
                                             containsPattern(query.q));
  tx.commit();
  OrderedJson items = OrderedJson::array();
  size_t shown = std::min(rows.size(), static_cast<size_t>(query.limit));
  for (size_t i = 0; i < shown; ++i) {
    items.push_back(productJson(rows[static_cast<pqxx::result::size_type>(i)]));
  }
  return {dump(OrderedJson{{"items", std::move(items)},
                           {"limit", query.limit},
                           {"offset", query.offset},
                           {"has_more", rows.size() > shown}}),
          shown == 0};
}

std::pair<int64_t, std::string> insertProduct(pqxx::connection& conn, const ProductInput& input) {
  pqxx::nontransaction tx(conn);
  pqxx::result rows =
      tx.exec_prepared("product_insert", *input.name, input.description, *input.price, input.stock);
  tx.commit();
  return {rows[0][0].as<int64_t>(), dump(productJson(rows[0]))};
}

std::optional<std::string> updateProduct(pqxx::connection& conn, int64_t id,
                                         const ProductInput& input) {
  pqxx::nontransaction tx(conn);
  pqxx::result rows = tx.exec_prepared("product_update", id, input.name, input.description,
                                       input.price, input.stock);
  tx.commit();
  if (rows.empty()) {
    return std::nullopt;
  }
  return dump(productJson(rows[0]));
}

bool deleteProduct(pqxx::connection& conn, int64_t id) {
  pqxx::nontransaction tx(conn);
  pqxx::result rows = tx.exec_prepared("product_delete", id);
  tx.commit();
  return !rows.empty();
}

}  // namespace product
