#include <catch2/catch.hpp>

#include "common/http/header_list.h"
#include "services/kit/identity.h"

namespace {
void add(http::HeaderList* headers, std::string_view name, std::string_view value) {
  headers->appendName(name.data(), name.size());
  headers->endName();
  headers->appendValue(value.data(), value.size());
}
}  // namespace

TEST_CASE("identity comes from the balancer's headers") {
  http::HeaderList headers;
  add(&headers, "X-User-Id", "42");
  add(&headers, "X-User-Roles", "customer, courier");
  http::Request request;
  request.headers = &headers;
  kit::Identity who = kit::Identity::fromRequest(request);
  CHECK(who.known());
  CHECK(who.user_id == 42);
  CHECK(who.hasRole("courier"));
  CHECK(who.hasAnyRole({"admin", "customer"}));
  CHECK_FALSE(who.hasRole("admin"));
}

TEST_CASE("identity: missing or malformed ids are anonymous") {
  for (const char* id : {"", "0", "-3", "12x", "abc"}) {
    http::HeaderList headers;
    if (*id != '\0') {
      add(&headers, "X-User-Id", id);
    }
    http::Request request;
    request.headers = &headers;
    CHECK_FALSE(kit::Identity::fromRequest(request).known());
  }
}
