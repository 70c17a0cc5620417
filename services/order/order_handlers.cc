#include "services/order/order_handlers.h"

#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>

#include "services/kit/identity.h"
#include "services/kit/reply.h"
#include "services/order/order_queries.h"
#include "services/order/order_request.h"
#include "services/order/order_status.h"

namespace order {

namespace {

using kit::Json;

http::Response notFound() { return kit::errorResponse(404, "no such order"); }

// Staff see every order; a customer sees only their own, and someone else's order answers
// 404 rather than 403, so that ids do not reveal which orders exist.
bool maySee(const kit::Identity& who, const Json& order) {
  return order["id_user"].get<int64_t>() == who.user_id || who.hasAnyRole({"admin", "courier"});
}

}  // namespace

OrderHandlers::OrderHandlers(kit::PgPool& db, std::function<void()> on_event)
    : db_(db), on_event_(std::move(on_event)) {}

void OrderHandlers::install(kit::Router& router) {
  router.add("POST", "/api/orders",
             [this](const http::Request& req, const kit::Params&, http::Responder r) {
               place(req, std::move(r));
             });
  router.add("GET", "/api/orders",
             [this](const http::Request& req, const kit::Params&, http::Responder r) {
               list(req, std::move(r));
             });
  router.add("GET", "/api/orders/{id}",
             [this](const http::Request& req, const kit::Params& p, http::Responder r) {
               get(req, p, std::move(r));
             });
  router.add("POST", "/api/orders/{id}/status",
             [this](const http::Request& req, const kit::Params& p, http::Responder r) {
               changeStatus(req, p, std::move(r));
             });
}

// An unknown or deleted product answers 422: the URL is right, the body names something that
// cannot be ordered. The same Idempotency-Key again (same user) answers the order it placed,
// 201 as the first time plus Idempotent-Replayed: true, and creates nothing; with another
// id_produk or jumlah it answers 422.
void OrderHandlers::place(const http::Request& request, http::Responder responder) {
  kit::Identity who = kit::Identity::fromRequest(request);
  if (!kit::requireUser(who, responder)) {
    return;
  }
  std::optional<Json> body = kit::parseJsonObject(request, responder);
  if (!body) {
    return;
  }
  PlaceOrder input;
  std::string invalid;
  if (!PlaceOrder::parse(*body, request.header("Idempotency-Key"), &input, &invalid)) {
    responder.send(kit::errorResponse(400, invalid));
    return;
  }

  enum class Outcome { kPlaced, kReplayed, kKeyReused, kNoProduct, kNoUser };
  struct Result {
    Outcome outcome = Outcome::kPlaced;
    Json order;
  };
  auto result = std::make_shared<Result>();
  int64_t user = who.user_id;
  db_.run(
      [input, user, result](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        pqxx::result rows;
        try {
          rows = tx.exec_prepared(sql::kPlace, input.id_produk, user, input.jumlah,
                                  input.idempotency_key);
        } catch (const pqxx::foreign_key_violation&) {
          result->outcome = Outcome::kNoUser;  // the product exists: it was just read
          return;
        }
        const pqxx::row& row = rows[0];
        if (!row[1].is_null()) {
          result->order = orderJson(row, 1);
          result->outcome = Outcome::kPlaced;
          return;
        }
        // Nothing inserted: the key is taken (by a committed order, or by one committed while
        // this statement waited on it, which a new statement sees), or no such product.
        if (!input.idempotency_key.empty()) {
          pqxx::result existing = tx.exec_prepared(sql::kByKey, user, input.idempotency_key);
          if (!existing.empty()) {
            result->order = orderJson(existing[0]);
            bool same = result->order["id_produk"].get<int64_t>() == input.id_produk &&
                        result->order["jumlah"].get<int64_t>() == input.jumlah;
            result->outcome = same ? Outcome::kReplayed : Outcome::kKeyReused;
            return;
          }
        }
        if (row[0].as<int64_t>() == 0) {
          result->outcome = Outcome::kNoProduct;
          return;
        }
        throw std::runtime_error("order not inserted and no order with its key");
      },
      [this, result, responder, input](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "placing an order"));
          return;
        }
        switch (result->outcome) {
          case Outcome::kPlaced:
            ++placed_;
            on_event_();
            responder.send(kit::jsonResponse(201, result->order));
            return;
          case Outcome::kReplayed: {
            ++replayed_;
            http::Response r = kit::jsonResponse(201, result->order);
            r.headers.emplace_back("Idempotent-Replayed", "true");
            responder.send(std::move(r));
            return;
          }
          case Outcome::kKeyReused: {
            Json reply = {{"error", "this Idempotency-Key was used for another request"},
                          {"id_order", result->order["id_order"]}};
            responder.send(kit::jsonResponse(422, reply));
            return;
          }
          case Outcome::kNoProduct:
            responder.send(kit::errorResponse(
                422, "product " + std::to_string(input.id_produk) + " does not exist"));
            return;
          case Outcome::kNoUser:
            responder.send(kit::errorResponse(422, "the calling user does not exist"));
            return;
        }
      });
}

// Answers {"orders": [...], "next_before": id or null}; pass next_before as before= for the
// next page (null: this was the last one).
void OrderHandlers::list(const http::Request& request, http::Responder responder) {
  kit::Identity who = kit::Identity::fromRequest(request);
  if (!kit::requireUser(who, responder)) {
    return;
  }
  ListOrders page;
  std::string invalid;
  if (!ListOrders::parse(request.query, &page, &invalid)) {
    responder.send(kit::errorResponse(400, invalid));
    return;
  }
  auto result = std::make_shared<Json>();
  int64_t user = who.user_id;
  db_.run(
      [page, user, result](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        // One more than asked: whether there is a next page, without counting.
        pqxx::result rows =
            page.before > 0 ? tx.exec_prepared(sql::kListBefore, user, page.limit + 1, page.before)
                            : tx.exec_prepared(sql::kListFirst, user, page.limit + 1);
        Json orders = Json::array();
        for (const pqxx::row& row : rows) {
          if (static_cast<int64_t>(orders.size()) == page.limit) {
            break;
          }
          orders.push_back(orderJson(row));
        }
        bool more = static_cast<int64_t>(rows.size()) > page.limit;
        *result = Json{{"orders", std::move(orders)}, {"next_before", nullptr}};
        if (more) {
          (*result)["next_before"] = (*result)["orders"].back()["id_order"];
        }
      },
      [result, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "listing orders"));
          return;
        }
        responder.send(kit::jsonResponse(200, *result));
      });
}

void OrderHandlers::get(const http::Request& request, const kit::Params& params,
                        http::Responder responder) {
  kit::Identity who = kit::Identity::fromRequest(request);
  if (!kit::requireUser(who, responder)) {
    return;
  }
  int64_t id = params.id("id");
  if (id < 0) {
    responder.send(notFound());
    return;
  }
  auto result = std::make_shared<Json>();
  db_.run(
      [id, result](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        pqxx::result rows = tx.exec_prepared(sql::kGet, id);
        if (rows.empty()) {
          return;
        }
        *result = orderJson(rows[0]);
        (*result)["history"] = Json::parse(rows[0][kOrderColumns].c_str());
      },
      [who, result, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "reading an order"));
          return;
        }
        if (result->is_null() || !maySee(who, *result)) {
          responder.send(notFound());
          return;
        }
        responder.send(kit::jsonResponse(200, *result));
      });
}

// Locks the order (SELECT ... FOR UPDATE), checks the transition against the current status,
// then one statement updates it and writes the history row and the outbox event. Concurrent
// changes of one order are serialized by the lock, so their events reach the outbox (and the
// stream) in the order of the changes.
void OrderHandlers::changeStatus(const http::Request& request, const kit::Params& params,
                                 http::Responder responder) {
  kit::Identity who = kit::Identity::fromRequest(request);
  if (!kit::requireRole(who, {"courier", "admin"}, responder)) {
    return;
  }
  int64_t id = params.id("id");
  if (id < 0) {
    responder.send(notFound());
    return;
  }
  std::optional<Json> body = kit::parseJsonObject(request, responder);
  if (!body) {
    return;
  }
  std::optional<std::string> text = kit::requireString(*body, "status", responder);
  if (!text) {
    return;
  }
  std::optional<OrderStatus> wanted = parseOrderStatus(*text);
  if (!wanted) {
    responder.send(kit::errorResponse(
        400, "status must be one of created, paid, shipped, delivered, cancelled"));
    return;
  }

  enum class Outcome { kChanged, kNotFound, kConflict, kNoUser };
  struct Result {
    Outcome outcome = Outcome::kChanged;
    std::string current;
    Json order;
  };
  auto result = std::make_shared<Result>();
  OrderStatus to = *wanted;
  int64_t by = who.user_id;
  db_.run(
      [id, to, by, result](pqxx::connection& conn) {
        pqxx::work tx(conn);
        pqxx::result locked = tx.exec_prepared(sql::kLock, id);
        if (locked.empty()) {
          result->outcome = Outcome::kNotFound;
          return;
        }
        result->current = locked[0][0].as<std::string>();
        std::optional<OrderStatus> from = parseOrderStatus(result->current);
        if (!from || !canChangeStatus(*from, to)) {
          result->outcome = Outcome::kConflict;
          return;  // the transaction rolls back, releasing the lock
        }
        pqxx::result rows;
        try {
          rows = tx.exec_prepared(sql::kChangeStatus, id, std::string(statusName(to)), by);
        } catch (const pqxx::foreign_key_violation&) {
          result->outcome = Outcome::kNoUser;
          return;
        }
        tx.commit();
        result->order = orderJson(rows[0]);
        result->order["history"] = Json::parse(rows[0][kOrderColumns].c_str());
      },
      [this, to, result, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "changing an order's status"));
          return;
        }
        switch (result->outcome) {
          case Outcome::kChanged:
            ++status_changes_[std::string(statusName(to))];
            on_event_();
            responder.send(kit::jsonResponse(200, result->order));
            return;
          case Outcome::kNotFound:
            responder.send(notFound());
            return;
          case Outcome::kConflict: {
            Json reply = {{"error", "cannot change the status from " + result->current + " to " +
                                        std::string(statusName(to))},
                          {"status", result->current}};
            responder.send(kit::jsonResponse(409, reply));
            return;
          }
          case Outcome::kNoUser:
            responder.send(kit::errorResponse(422, "the calling user does not exist"));
            return;
        }
      });
}

void OrderHandlers::collect(metrics::Exposition& out) const {
  out.family("order_orders_placed_total", "counter", "Orders placed by this instance.");
  out.sample("order_orders_placed_total", {}, static_cast<double>(placed_));
  out.family("order_orders_replayed_total", "counter",
             "Order requests answered with the order an earlier request with the same "
             "Idempotency-Key placed.");
  out.sample("order_orders_replayed_total", {}, static_cast<double>(replayed_));
  out.family("order_status_changes_total", "counter", "Status changes, by the new status.");
  for (const auto& [status, count] : status_changes_) {
    out.sample("order_status_changes_total", {{"status", status}}, static_cast<double>(count));
  }
}

}  // namespace order
