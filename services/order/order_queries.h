#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/row>
#include <string>
#include <utility>
#include <vector>

namespace order {

// The prepared statements of the order handlers (PostgreSQL, see 0002_orders.sql). Each
// request costs one statement where it can: placing an order is a single statement (its
// own transaction), reading an order brings its history along as JSON.
namespace sql {
// $1 id_produk, $2 id_user, $3 jumlah, $4 idempotency key ('' for none) -> one row:
// product_found (0/1), then the order's columns (NULL when nothing was inserted: unknown
// product, or the key already used).
inline constexpr const char* kPlace = "order_place";
// $1 id_user, $2 idempotency key -> the order placed with that key, if any.
inline constexpr const char* kByKey = "order_by_key";
// $1 id_order -> the order's columns, then its history as a JSON array (text).
inline constexpr const char* kGet = "order_get";
// $1 id_user, $2 limit -> the user's newest orders.
inline constexpr const char* kListFirst = "order_list_first";
// $1 id_user, $2 limit, $3 id_order of the previous page's last order -> the next page.
inline constexpr const char* kListBefore = "order_list_before";
// $1 id_order -> status, locking the row until the transaction ends.
inline constexpr const char* kLock = "order_lock";
// $1 id_order, $2 new status, $3 changed_by -> the order's columns, then its history (the
// new entry included) as a JSON array (text). Also writes the history row and the outbox
// event. Run after kLock, in the same transaction.
inline constexpr const char* kChangeStatus = "order_change_status";
}  // namespace sql

std::vector<std::pair<std::string, std::string>> orderStatements();

// The number of order columns at the start of kGet/kList/kChangeStatus rows (and after
// product_found in kPlace).
inline constexpr int kOrderColumns = 9;

// The order whose columns start at `first`, as the API's JSON object.
nlohmann::json orderJson(const pqxx::row& row, int first = 0);

}  // namespace order
