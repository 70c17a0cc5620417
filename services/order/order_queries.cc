#include "services/order/order_queries.h"

#include <pqxx/field>

namespace order {

namespace {

// ISO-8601 in UTC with milliseconds ("2024-05-01T10:20:30.123Z"): formatted by PostgreSQL,
// so the service does no time zone arithmetic.
std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

// The kOrderColumns columns orderJson() reads, from the orders row (or CTE) named `o`.
std::string orderColumns(const std::string& o) {
  return o + ".id_order, " + o + ".id_produk, " + o + ".id_user, " + o + ".harga, " + o +
         ".jumlah, " + o + ".total_harga, " + o + ".status, " + iso(o + ".created_at") + ", " +
         iso(o + ".updated_at");
}

// The event a status change publishes (outbox.payload); the relay copies its fields into the
// stream entry. `at` is the change's time: the transaction's now(), as in the history row.
std::string eventPayload(const std::string& o, const std::string& event_id) {
  return "jsonb_build_object('type', 'order.status', 'id_order', " + o + ".id_order, 'id_user', " +
         o + ".id_user, 'status', " + o + ".status, 'at', " + iso(o + ".updated_at") +
         ", 'event_id', " + event_id + ")";
}

std::string historyJson(const std::string& h) {
  return "coalesce(json_agg(json_build_object('status', " + h + ".status, 'changed_at', " +
         iso(h + ".changed_at") + ", 'changed_by', " + h + ".changed_by) ORDER BY " + h +
         ".changed_at, " + h + ".id_order_status_history), '[]'::json)::text";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> orderStatements() {
  // Placing an order is one statement, hence one transaction and one round trip: the price is
  // read in the same snapshot as the insert, and the order, its first history row and its
  // outbox event commit together. The event id is generated once (a volatile CTE is
  // evaluated once) and stored both as outbox.event_id and in the payload.
  std::string place =
      "WITH product AS ("
      "  SELECT id, price FROM products WHERE id = $1::bigint AND deleted_at IS NULL"
      "), placed AS ("
      "  INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga, idempotency_key)"
      "  SELECT id, $2::bigint, price, $3::integer, price * $3::integer, NULLIF($4::text, '')"
      "  FROM product"
      "  ON CONFLICT (id_user, idempotency_key) DO NOTHING"
      "  RETURNING *"
      "), history AS ("
      "  INSERT INTO order_status_history (id_order, status, changed_at, changed_by)"
      "  SELECT id_order, status, created_at, id_user FROM placed"
      "), event AS ("
      "  SELECT gen_random_uuid() AS event_id"
      "), published AS ("
      "  INSERT INTO outbox (event_id, aggregate, aggregate_id, type, payload)"
      "  SELECT e.event_id, 'order', p.id_order, 'order.status', " +
      eventPayload("p", "e.event_id") +
      "  FROM placed p CROSS JOIN event e"
      ") "
      "SELECT (SELECT count(*) FROM product), " +
      orderColumns("p") + " FROM (SELECT 1) AS one LEFT JOIN placed p ON true";

  std::string by_key = "SELECT " + orderColumns("o") +
                       " FROM orders o WHERE o.id_user = $1 AND o.idempotency_key = $2";

  std::string get = "SELECT " + orderColumns("o") + ", (SELECT " + historyJson("h") +
                    " FROM order_status_history h WHERE h.id_order = o.id_order)"
                    " FROM orders o WHERE o.id_order = $1";

  // Newest first, as orders_user_created_idx is sorted. The page boundary is the previous
  // page's last (created_at, id_order), looked up by id among the caller's own orders.
  std::string list_first = "SELECT " + orderColumns("o") +
                           " FROM orders o WHERE o.id_user = $1"
                           " ORDER BY o.created_at DESC, o.id_order DESC LIMIT $2";
  std::string list_before =
      "SELECT " + orderColumns("o") +
      " FROM orders o WHERE o.id_user = $1"
      " AND (o.created_at, o.id_order) < "
      "(SELECT b.created_at, b.id_order FROM orders b WHERE b.id_order = $3 AND b.id_user = $1)"
      " ORDER BY o.created_at DESC, o.id_order DESC LIMIT $2";

  std::string lock = "SELECT status FROM orders WHERE id_order = $1 FOR UPDATE";

  // The history rows committed before are visible to this statement; the one it inserts is
  // not, so it joins them with the RETURNING of its own insert.
  std::string change =
      "WITH changed AS ("
      "  UPDATE orders SET status = $2::text WHERE id_order = $1::bigint RETURNING *"
      "), entry AS ("
      "  INSERT INTO order_status_history (id_order, status, changed_at, changed_by)"
      "  SELECT id_order, status, updated_at, $3::bigint FROM changed"
      "  RETURNING id_order_status_history, status, changed_at, changed_by"
      "), event AS ("
      "  SELECT gen_random_uuid() AS event_id"
      "), published AS ("
      "  INSERT INTO outbox (event_id, aggregate, aggregate_id, type, payload)"
      "  SELECT e.event_id, 'order', c.id_order, 'order.status', " +
      eventPayload("c", "e.event_id") +
      "  FROM changed c CROSS JOIN event e"
      ") "
      "SELECT " +
      orderColumns("c") + ", (SELECT " + historyJson("h") +
      " FROM (SELECT id_order_status_history, status, changed_at, changed_by"
      "       FROM order_status_history WHERE id_order = $1::bigint"
      "       UNION ALL SELECT * FROM entry) AS h)"
      " FROM changed c";

  return {{sql::kPlace, place},          {sql::kByKey, by_key},           {sql::kGet, get},
          {sql::kListFirst, list_first}, {sql::kListBefore, list_before}, {sql::kLock, lock},
          {sql::kChangeStatus, change}};
}

nlohmann::json orderJson(const pqxx::row& row, int first) {
  auto at = [&](int i) { return row[first + i]; };
  return nlohmann::json{
      {"id_order", at(0).as<int64_t>()},       {"id_produk", at(1).as<int64_t>()},
      {"id_user", at(2).as<int64_t>()},        {"harga", at(3).as<int64_t>()},
      {"jumlah", at(4).as<int64_t>()},         {"total_harga", at(5).as<int64_t>()},
      {"status", at(6).as<std::string>()},     {"created_at", at(7).as<std::string>()},
      {"updated_at", at(8).as<std::string>()},
  };
}

}  // namespace order
