#include <catch2/catch.hpp>

#include <pqxx/except>

#include <stdexcept>

#include "services/kit/reply.h"
#include "services/kit/work_queue.h"

namespace {
std::string_view header(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}
}  // namespace

TEST_CASE("a lost database answers 503 with Retry-After; other failures 500") {
  auto unavailable = {
      std::make_exception_ptr(pqxx::broken_connection("gone")),
      std::make_exception_ptr(pqxx::in_doubt_error("lost while committing")),
      std::make_exception_ptr(pqxx::statement_completion_unknown("lost during the statement")),
      std::make_exception_ptr(pqxx::sql_error("shutting down", "SELECT 1", "57P01")),
      std::make_exception_ptr(kit::Unavailable("no free connection")),
  };
  for (const auto& error : unavailable) {
    CHECK(kit::isUnavailable(error));
    http::Response r = kit::failureResponse(error, "test");
    CHECK(r.status == 503);
    CHECK(header(r, "Retry-After") == "1");
  }
  // A commit whose outcome is unknown says so: a retry may find the change made.
  http::Response doubt =
      kit::failureResponse(std::make_exception_ptr(pqxx::in_doubt_error("x")), "test");
  CHECK(doubt.body.find("may have been made") != std::string::npos);

  auto internal = {
      std::make_exception_ptr(pqxx::sql_error("duplicate key", "INSERT", "23505")),
      std::make_exception_ptr(std::runtime_error("a bug")),
  };
  for (const auto& error : internal) {
    CHECK_FALSE(kit::isUnavailable(error));
    CHECK(kit::failureResponse(error, "test").status == 500);
  }
}

TEST_CASE("work a stopping instance did not start answers 503 with Retry-After") {
  http::Response r =
      kit::failureResponse(std::make_exception_ptr(kit::WorkQueueClosed()), "password check");
  CHECK(r.status == 503);
  CHECK(header(r, "Retry-After") == "1");
  CHECK(r.body.find("stopping") != std::string::npos);
}
