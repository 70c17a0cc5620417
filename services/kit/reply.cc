#include "services/kit/reply.h"

#include <pqxx/except>

#include "common/log/log.h"
#include "services/kit/input_check.h"
#include "services/kit/work_queue.h"

namespace kit {

http::Response errorResponse(int status, std::string_view message) {
  return jsonResponse(status, Json{{"error", message}});
}

http::Response jsonResponse(int status, const Json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

std::optional<Json> parseJsonObject(const http::Request& request, http::Responder& responder) {
  std::string_view type = request.header("Content-Type");
  if (!type.empty() && type.find("json") == std::string_view::npos) {
    responder.send(errorResponse(415, "expected Content-Type: application/json"));
    return std::nullopt;
  }
  std::string error;
  std::optional<Json> body = readJsonObject(request.body, &error);
  if (!body) {
    responder.send(errorResponse(400, error));
  }
  return body;
}

namespace {

enum class StoreFailure { kNone, kUnreachable, kOutcomeUnknown };

// What a failed store operation means to the client. kOutcomeUnknown: the connection died
// during COMMIT or a statement, so a retry may find the change made (an order's
// Idempotency-Key answers it; a status change answers 409 if it landed).
StoreFailure classify(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Unavailable&) {
    return StoreFailure::kUnreachable;
  } catch (const pqxx::broken_connection&) {
    return StoreFailure::kUnreachable;
  } catch (const pqxx::in_doubt_error&) {
    return StoreFailure::kOutcomeUnknown;
  } catch (const pqxx::statement_completion_unknown&) {
    return StoreFailure::kOutcomeUnknown;
  } catch (const pqxx::sql_error& e) {
    // Class 08: connection exceptions; 57P01-57P03: the server shutting down or starting.
    std::string state = e.sqlstate();
    bool down = state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" ||
                state == "57P03";
    return down ? StoreFailure::kUnreachable : StoreFailure::kNone;
  } catch (...) {
    return StoreFailure::kNone;
  }
}

}  // namespace

bool isUnavailable(std::exception_ptr error) {
  return classify(error) != StoreFailure::kNone;
}

http::Response failureResponse(std::exception_ptr error, std::string_view what) {
  StoreFailure failure = classify(error);
  if (failure != StoreFailure::kNone) {
    http::Response r = errorResponse(
        503, failure == StoreFailure::kOutcomeUnknown
                 ? "service unavailable: the database connection was lost while committing; "
                   "the change may have been made, so retry it as the same request"
                 : "service unavailable: the database cannot be reached");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  try {
    std::rethrow_exception(error);
  } catch (const WorkQueueClosed&) {
    // Queued work a stopping instance will not do: another instance can.
    http::Response r = errorResponse(503, "service unavailable: this instance is stopping");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  } catch (const std::exception& e) {
    LOG_ERROR("%.*s failed: %s", static_cast<int>(what.size()), what.data(), e.what());
  } catch (...) {
    LOG_ERROR("%.*s failed", static_cast<int>(what.size()), what.data());
  }
  return errorResponse(500, "internal error");
}

std::optional<std::string> requireString(const Json& body, std::string_view field,
                                         http::Responder& responder) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) {
    responder.send(errorResponse(400, std::string(field) + " is required (a string)"));
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<int64_t> requireInteger(const Json& body, std::string_view field,
                                      http::Responder& responder) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_number_integer()) {
    responder.send(errorResponse(400, std::string(field) + " is required (an integer)"));
    return std::nullopt;
  }
  return it->get<int64_t>();
}

}  // namespace kit
