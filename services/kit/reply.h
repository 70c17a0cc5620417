#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "common/http/server.h"

namespace kit {

using Json = nlohmann::json;

// A store (PostgreSQL, Redis) that cannot be reached now: answered with 503.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// {"error": message} with the status; the balancer's errors have the same shape.
http::Response errorResponse(int status, std::string_view message);
http::Response jsonResponse(int status, const Json& body);

// The request body as a JSON object, or nullopt after answering 400 (bad JSON, not an
// object, too deep, a string that is not clean text: see readJsonObject) or 415 (wrong
// content type).
std::optional<Json> parseJsonObject(const http::Request& request, http::Responder& responder);

// The answer for a failed database or Redis operation: 503 when the store is unreachable (the
// client may retry), 500 otherwise (logged).
http::Response failureResponse(std::exception_ptr error, std::string_view what);
bool isUnavailable(std::exception_ptr error);

// Reads a required field of the given JSON type; nullopt (and the 400 sent) when missing or
// of the wrong type.
std::optional<std::string> requireString(const Json& body, std::string_view field,
                                         http::Responder& responder);
std::optional<int64_t> requireInteger(const Json& body, std::string_view field,
                                      http::Responder& responder);

}  // namespace kit
