#pragma once

#include <optional>
#include <string_view>

namespace order {

// The life of an order: created -> paid -> shipped -> delivered, or cancelled from any state
// before delivered. The names are the values of orders.status (see 0002_orders.sql).
enum class OrderStatus { kCreated, kPaid, kShipped, kDelivered, kCancelled };

// "paid" -> kPaid; nullopt for anything else (case-sensitive, as stored).
std::optional<OrderStatus> parseOrderStatus(std::string_view text);
std::string_view statusName(OrderStatus status);

// Whether an order in `from` may move to `to`. Staying in the same state is not a change
// (false), and delivered and cancelled are final.
bool canChangeStatus(OrderStatus from, OrderStatus to);

}  // namespace order
