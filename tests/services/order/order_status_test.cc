#include "services/order/order_status.h"

#include <catch2/catch.hpp>

using order::canChangeStatus;
using order::OrderStatus;
using order::parseOrderStatus;
using order::statusName;

TEST_CASE("status names round-trip", "[order][status]") {
  for (OrderStatus s : {OrderStatus::kCreated, OrderStatus::kPaid, OrderStatus::kShipped,
                        OrderStatus::kDelivered, OrderStatus::kCancelled}) {
    REQUIRE(parseOrderStatus(statusName(s)) == s);
  }
  CHECK_FALSE(parseOrderStatus("Paid"));
  CHECK_FALSE(parseOrderStatus(""));
  CHECK_FALSE(parseOrderStatus("refunded"));
}

TEST_CASE("the happy path moves one step at a time", "[order][status]") {
  CHECK(canChangeStatus(OrderStatus::kCreated, OrderStatus::kPaid));
  CHECK(canChangeStatus(OrderStatus::kPaid, OrderStatus::kShipped));
  CHECK(canChangeStatus(OrderStatus::kShipped, OrderStatus::kDelivered));
  CHECK_FALSE(canChangeStatus(OrderStatus::kCreated, OrderStatus::kShipped));
  CHECK_FALSE(canChangeStatus(OrderStatus::kCreated, OrderStatus::kDelivered));
  CHECK_FALSE(canChangeStatus(OrderStatus::kPaid, OrderStatus::kDelivered));
}

TEST_CASE("no way back, no repeat, final states stay final", "[order][status]") {
  CHECK_FALSE(canChangeStatus(OrderStatus::kDelivered, OrderStatus::kPaid));
  CHECK_FALSE(canChangeStatus(OrderStatus::kShipped, OrderStatus::kPaid));
  CHECK_FALSE(canChangeStatus(OrderStatus::kPaid, OrderStatus::kPaid));
  CHECK_FALSE(canChangeStatus(OrderStatus::kPaid, OrderStatus::kCreated));
  for (OrderStatus to : {OrderStatus::kCreated, OrderStatus::kPaid, OrderStatus::kShipped,
                         OrderStatus::kDelivered, OrderStatus::kCancelled}) {
    CHECK_FALSE(canChangeStatus(OrderStatus::kDelivered, to));
    CHECK_FALSE(canChangeStatus(OrderStatus::kCancelled, to));
  }
}

TEST_CASE("cancel before delivery", "[order][status]") {
  CHECK(canChangeStatus(OrderStatus::kCreated, OrderStatus::kCancelled));
  CHECK(canChangeStatus(OrderStatus::kPaid, OrderStatus::kCancelled));
  CHECK(canChangeStatus(OrderStatus::kShipped, OrderStatus::kCancelled));
}
