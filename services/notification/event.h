#pragma once

#include <cstdint>
#include <optional>
#include <string>

struct redisReply;

namespace notification {

// One order-status event as the relay of order-service writes it to the Redis streams
// (fields event_id, id_order, id_user, status, at) and as a client receives it:
// {"type":"order.status","id_order":..,"status":"..","at":"..","event_id":".."}.
struct Event {
  std::string stream_id;  // the entry's id in the stream it was read from
  std::string event_id;   // the outbox row's uuid: the client's resume point and dedupe key
  int64_t id_user = 0;
  std::string message;    // the JSON text pushed to the client
};

// Parses one stream entry ([id, [field, value, ...]]); nullopt when it lacks a field.
std::optional<Event> parseStreamEntry(const redisReply* entry);

// The stream that holds one user's events, for resuming (written by the relay, capped).
std::string userStreamKey(const std::string& stream, int64_t id_user);

}  // namespace notification
