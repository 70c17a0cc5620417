#include "services/order/order_request.h"

#include <charconv>

#include "common/http/query.h"

namespace order {

namespace {

// A JSON integer field that fits int64, or false.
bool integerField(const nlohmann::json& body, const char* name, int64_t* out) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_number_integer()) {
    return false;
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    *out = INT64_MAX;  // out of every range we accept
    return true;
  }
  *out = it->get<int64_t>();
  return true;
}

bool parseDecimal(std::string_view text, int64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

bool PlaceOrder::parse(const nlohmann::json& body, std::string_view idempotency_key,
                       PlaceOrder* out, std::string* error) {
  if (!integerField(body, "id_produk", &out->id_produk)) {
    *error = "id_produk is required (an integer)";
    return false;
  }
  if (out->id_produk <= 0) {
    *error = "id_produk must be a positive integer";
    return false;
  }
  if (!integerField(body, "jumlah", &out->jumlah)) {
    *error = "jumlah is required (an integer)";
    return false;
  }
  if (out->jumlah <= 0 || out->jumlah > kMaxQuantity) {
    *error = "jumlah must be between 1 and " + std::to_string(kMaxQuantity);
    return false;
  }
  if (idempotency_key.size() > kMaxKeyLength) {
    *error = "Idempotency-Key must be 1 to " + std::to_string(kMaxKeyLength) + " characters";
    return false;
  }
  out->idempotency_key = std::string(idempotency_key);
  return true;
}

bool ListOrders::parse(std::string_view query, ListOrders* out, std::string* error) {
  for (auto [key, value] : http::splitQuery(query)) {
    if (key == "limit") {
      if (!parseDecimal(value, &out->limit) || out->limit < 1 || out->limit > kMaxLimit) {
        *error = "limit must be between 1 and " + std::to_string(kMaxLimit);
        return false;
      }
    } else if (key == "before") {
      if (!parseDecimal(value, &out->before) || out->before < 1) {
        *error = "before must be an order id";
        return false;
      }
    }
  }
  return true;
}

}  // namespace order
