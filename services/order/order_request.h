#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace order {

// What POST /api/orders asks for, checked. Errors are messages for a 400.
struct PlaceOrder {
  static constexpr int64_t kMaxQuantity = 1000;
  static constexpr size_t kMaxKeyLength = 255;  // orders.idempotency_key's CHECK

  int64_t id_produk = 0;
  int64_t jumlah = 0;
  std::string idempotency_key;  // empty: none sent

  // Reads {id_produk, jumlah} and the Idempotency-Key header's value. Returns false with
  // *error set when a field is missing, not an integer, or out of range (id_produk > 0,
  // 1 <= jumlah <= kMaxQuantity), or the key is longer than kMaxKeyLength.
  static bool parse(const nlohmann::json& body, std::string_view idempotency_key, PlaceOrder* out,
                    std::string* error);
};

// GET /api/orders?limit=&before=: a page of the caller's orders, newest first. `before` is
// the id_order of the last order of the previous page (keyset paging: stable while new
// orders arrive, and each page costs the same however deep).
struct ListOrders {
  static constexpr int64_t kDefaultLimit = 20;
  static constexpr int64_t kMaxLimit = 100;

  int64_t limit = kDefaultLimit;
  int64_t before = 0;  // 0: the first page

  // Parses the query string (without '?'). Unknown parameters are ignored. Returns false
  // with *error set for a limit outside 1..kMaxLimit or a before that is no positive id.
  static bool parse(std::string_view query, ListOrders* out, std::string* error);
};

}  // namespace order
