#include "balancer/cache/cached_object.h"

#include <algorithm>

#include "common/http/date.h"
#include "balancer/cache/storability.h"

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

std::string CachedObject::headLines(int64_t now_ms,
                                    const std::function<bool(const Field&)>& leave_out) const {
  std::string out;
  for (const Field& field : headers) {
    if (http::equalsIgnoreCase(field.name, "age") || (leave_out && leave_out(field))) {
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

namespace {

// Directives, lifetime, vary and validators from the object's (new) head.
void deriveFromHead(CachedObject& object, const HeuristicPolicy& heuristic) {
  object.cc = responseCacheControl(object.headers);
  object.lifetime_ms = freshnessLifetimeMs(object.status, object.cc, object.times, heuristic,
                                           &object.heuristic);
  object.vary = varyNames(object.headers);
  object.etag = combinedValue(object.headers, "etag");
  object.last_modified = combinedValue(object.headers, "last-modified");
}

}  // namespace

std::shared_ptr<CachedObject> freshenedBy304(const CachedObject& stored,
                                             const http::HeaderList& not_modified,
                                             int64_t request_ms, int64_t response_ms,
                                             const HeuristicPolicy& heuristic) {
  auto object = std::make_shared<CachedObject>(stored);
  Fields update = storedFields(not_modified, responseCacheControl(not_modified));
  Fields& fields = object->headers;
  // The 304 is the newer response: its Date and Age (none: received now, age 0) replace the
  // stored ones, else an old Date would make the freshened response look old at once.
  fields.erase(std::remove_if(fields.begin(), fields.end(),
                              [](const Field& f) {
                                return http::equalsIgnoreCase(f.name, "age") ||
                                       http::equalsIgnoreCase(f.name, "date");
                              }),
               fields.end());
  bool has_date = false;
  not_modified.find("date", &has_date);
  if (!has_date) {
    update.push_back({"Date", http::formatHttpDate(response_ms / 1000)});
  }
  for (const Field& field : update) {
    fields.erase(std::remove_if(fields.begin(), fields.end(),
                                [&](const Field& f) {
                                  return http::equalsIgnoreCase(f.name, field.name);
                                }),
                 fields.end());
  }
  fields.insert(fields.end(), update.begin(), update.end());
  object->times = readResponseTimes(fields, request_ms, response_ms);
  deriveFromHead(*object, heuristic);
  return object;
}

std::shared_ptr<CachedObject> makeObject(ObjectHead head, const HeuristicPolicy& heuristic) {
  auto object = std::make_shared<CachedObject>();
  object->status = head.status;
  object->headers = std::move(head.headers);
  object->content_length = head.content_length;
  object->times = readResponseTimes(object->headers, head.request_ms, head.response_ms);
  deriveFromHead(*object, heuristic);
  object->primary = head.primary;
  object->secondary = head.secondary;
  object->host = std::move(head.host);
  object->path = std::move(head.path);
  object->body = std::make_shared<GrowingBody>(head.content_length);
  return object;
}

}  // namespace balancer::cache
