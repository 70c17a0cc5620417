#include "common/http/status.h"

#include <catch2/catch.hpp>

TEST_CASE("reason phrases of the statuses the balancer and the cache answer with", "[http]") {
  CHECK(http::reasonPhrase(206) == "Partial Content");
  CHECK(http::reasonPhrase(412) == "Precondition Failed");
  CHECK(http::reasonPhrase(416) == "Range Not Satisfiable");
  CHECK(http::reasonPhrase(304) == "Not Modified");
  CHECK(http::reasonPhrase(599) == "Unknown");
}
