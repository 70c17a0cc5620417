#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/http/server.h"
#include "common/metrics/exposition.h"
#include "services/kit/pg_pool.h"
#include "services/kit/router.h"

namespace order {

// The order API (paths as the balancer forwards them):
//   POST /api/orders               {id_produk, jumlah} [Idempotency-Key] -> 201 the order
//   GET  /api/orders               ?limit=&before= -> the caller's orders, newest first
//   GET  /api/orders/{id}          -> the order with its history (owner, courier, admin)
//   POST /api/orders/{id}/status   {status} (courier, admin) -> 200 the order with history
// Every change writes its outbox event in the same transaction; `on_event` is told after the
// commit so that the relay publishes it at once.
class OrderHandlers {
 public:
  OrderHandlers(kit::PgPool& db, std::function<void()> on_event);

  void install(kit::Router& router);
  // order_orders_placed_total, order_orders_replayed_total, order_status_changes_total.
  void collect(metrics::Exposition& out) const;

 private:
  void place(const http::Request& request, http::Responder responder);
  void list(const http::Request& request, http::Responder responder);
  void get(const http::Request& request, const kit::Params& params, http::Responder responder);
  void changeStatus(const http::Request& request, const kit::Params& params,
                    http::Responder responder);

  kit::PgPool& db_;
  std::function<void()> on_event_;
  uint64_t placed_ = 0;
  uint64_t replayed_ = 0;
  std::map<std::string, uint64_t> status_changes_;
};

}  // namespace order
