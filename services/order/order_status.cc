#include "services/order/order_status.h"

namespace order {

std::optional<OrderStatus> parseOrderStatus(std::string_view text) {
  if (text == "created") {
    return OrderStatus::kCreated;
  }
  if (text == "paid") {
    return OrderStatus::kPaid;
  }
  if (text == "shipped") {
    return OrderStatus::kShipped;
  }
  if (text == "delivered") {
    return OrderStatus::kDelivered;
  }
  if (text == "cancelled") {
    return OrderStatus::kCancelled;
  }
  return std::nullopt;
}

std::string_view statusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kCreated:
      return "created";
    case OrderStatus::kPaid:
      return "paid";
    case OrderStatus::kShipped:
      return "shipped";
    case OrderStatus::kDelivered:
      return "delivered";
    case OrderStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool canChangeStatus(OrderStatus from, OrderStatus to) {
  switch (to) {
    case OrderStatus::kPaid:
      return from == OrderStatus::kCreated;
    case OrderStatus::kShipped:
      return from == OrderStatus::kPaid;
    case OrderStatus::kDelivered:
      return from == OrderStatus::kShipped;
    case OrderStatus::kCancelled:
      return from == OrderStatus::kCreated || from == OrderStatus::kPaid ||
             from == OrderStatus::kShipped;
    case OrderStatus::kCreated:
      return false;  // only placing an order creates it
  }
  return false;
}

}  // namespace order
