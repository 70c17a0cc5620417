#include "services/notification/event.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>

namespace notification {

std::optional<Event> parseStreamEntry(const redisReply* entry) {
  if (entry == nullptr || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING ||
      entry->element[1]->type != REDIS_REPLY_ARRAY) {
    return std::nullopt;
  }
  Event event;
  event.stream_id.assign(entry->element[0]->str, entry->element[0]->len);
  const redisReply* fields = entry->element[1];
  std::string id_order, status, at;
  std::string id_user;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const redisReply* k = fields->element[i];
    const redisReply* v = fields->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
      continue;
    }
    std::string_view key(k->str, k->len);
    std::string value(v->str, v->len);
    if (key == "event_id") {
      event.event_id = std::move(value);
    } else if (key == "id_order") {
      id_order = std::move(value);
    } else if (key == "id_user") {
      id_user = std::move(value);
    } else if (key == "status") {
      status = std::move(value);
    } else if (key == "at") {
      at = std::move(value);
    }
  }
  int64_t order = 0;
  auto [p1, e1] = std::from_chars(id_order.data(), id_order.data() + id_order.size(), order);
  auto [p2, e2] = std::from_chars(id_user.data(), id_user.data() + id_user.size(), event.id_user);
  if (event.event_id.empty() || status.empty() || e1 != std::errc() || e2 != std::errc() ||
      p1 != id_order.data() + id_order.size() || p2 != id_user.data() + id_user.size()) {
    return std::nullopt;
  }
  event.message = nlohmann::json{{"type", "order.status"},
                                 {"id_order", order},
                                 {"status", status},
                                 {"at", at},
                                 {"event_id", event.event_id}}
                      .dump();
  return event;
}

std::string userStreamKey(const std::string& stream, int64_t id_user) {
  return stream + ":user:" + std::to_string(id_user);
}

}  // namespace notification
