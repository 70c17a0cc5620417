#include "balancer/cache/cached_object.h"

namespace balancer::cache {

size_t CachedObject::bytes() const {
  size_t total = sizeof(CachedObject) + host.size() + path.size() + etag.size() +
                 last_modified.size() + body->capacityBytes();
  for (const Field& field : headers) {
    total += field.name.size() + field.value.size() + 2 * sizeof(std::string);
  }
  for (const std::string& name : vary) {
    total += name.size() + sizeof(std::string);
  }
  return total;
}

std::string CachedObject::headLines(int64_t now_ms) const {
  std::string out;
  for (const Field& field : headers) {
    if (http::equalsIgnoreCase(field.name, "age")) {
      continue;
    }
    out += field.name;
    out += ": ";
    out += field.value;
    out += "\r\n";
  }
  out += "Age: ";
  out += std::to_string(ageMs(now_ms) / 1000);
  out += "\r\n";
  return out;
}

std::shared_ptr<CachedObject> makeObject(ObjectHead head, const HeuristicPolicy& heuristic) {
  auto object = std::make_shared<CachedObject>();
  object->status = head.status;
  object->headers = std::move(head.headers);
  object->content_length = head.content_length;
  object->times = readResponseTimes(object->headers, head.request_ms, head.response_ms);
  object->cc = responseCacheControl(object->headers);
  object->lifetime_ms = freshnessLifetimeMs(object->status, object->cc, object->times, heuristic,
                                            &object->heuristic);
  object->vary = varyNames(object->headers);
  object->primary = head.primary;
  object->secondary = head.secondary;
  object->host = std::move(head.host);
  object->path = std::move(head.path);
  object->etag = combinedValue(object->headers, "etag");
  object->last_modified = combinedValue(object->headers, "last-modified");
  object->body = std::make_shared<GrowingBody>(head.content_length);
  return object;
}

}  // namespace balancer::cache
