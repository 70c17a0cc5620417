#include "services/order/order_request.h"

#include <catch2/catch.hpp>

using order::ListOrders;
using order::PlaceOrder;
using Json = nlohmann::json;

TEST_CASE("a valid order", "[order][request]") {
  PlaceOrder p;
  std::string error;
  REQUIRE(PlaceOrder::parse(Json{{"id_produk", 7}, {"jumlah", 3}}, "key-1", &p, &error));
  CHECK(p.id_produk == 7);
  CHECK(p.jumlah == 3);
  CHECK(p.idempotency_key == "key-1");
  REQUIRE(PlaceOrder::parse(Json{{"id_produk", 7}, {"jumlah", 1000}}, "", &p, &error));
  CHECK(p.idempotency_key.empty());
}

TEST_CASE("bad orders say why", "[order][request]") {
  PlaceOrder p;
  std::string error;
  CHECK_FALSE(PlaceOrder::parse(Json{{"jumlah", 1}}, "", &p, &error));
  CHECK(error.find("id_produk") != std::string::npos);
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}}, "", &p, &error));
  CHECK(error.find("jumlah") != std::string::npos);
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", "1"}, {"jumlah", 1}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", 1.5}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", 0}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", -2}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", 1001}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 0}, {"jumlah", 1}}, "", &p, &error));
  CHECK_FALSE(PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", 18446744073709551615ULL}}, "", &p,
                                &error));
  CHECK_FALSE(
      PlaceOrder::parse(Json{{"id_produk", 1}, {"jumlah", 1}}, std::string(256, 'k'), &p, &error));
  CHECK(error.find("Idempotency-Key") != std::string::npos);
}

TEST_CASE("list paging parameters", "[order][request]") {
  ListOrders page;
  std::string error;
  REQUIRE(ListOrders::parse("", &page, &error));
  CHECK(page.limit == ListOrders::kDefaultLimit);
  CHECK(page.before == 0);
  REQUIRE(ListOrders::parse("limit=5&before=42&other=x", &page, &error));
  CHECK(page.limit == 5);
  CHECK(page.before == 42);
  ListOrders bad;
  CHECK_FALSE(ListOrders::parse("limit=0", &bad, &error));
  CHECK_FALSE(ListOrders::parse("limit=101", &bad, &error));
  CHECK_FALSE(ListOrders::parse("limit=", &bad, &error));
  CHECK_FALSE(ListOrders::parse("before=-1", &bad, &error));
  CHECK_FALSE(ListOrders::parse("before=abc", &bad, &error));
}
