#include <catch2/catch.hpp>

#include "common/http/header_list.h"

using http::HeaderKind;
using http::HeaderList;

TEST_CASE("header names are recognised whatever their case") {
  CHECK(http::classifyHeader("Connection") == HeaderKind::kConnection);
  CHECK(http::classifyHeader("TRANSFER-ENCODING") == HeaderKind::kTransferEncoding);
  CHECK(http::classifyHeader("x-forwarded-proto") == HeaderKind::kXForwardedProto);
  CHECK(http::classifyHeader("Forwarded") == HeaderKind::kForwarded);
  CHECK(http::classifyHeader("X-Real-IP") == HeaderKind::kXRealIp);
  CHECK(http::classifyHeader("x-real-ix") == HeaderKind::kOther);
  CHECK(http::classifyHeader("X-Forwarded-For") == HeaderKind::kXForwardedFor);
  CHECK(http::classifyHeader("te") == HeaderKind::kTe);
  CHECK(http::classifyHeader("Host") == HeaderKind::kHost);
  CHECK(http::classifyHeader("Hosts") == HeaderKind::kOther);
  CHECK(http::classifyHeader("X-Request-Id") == HeaderKind::kXRequestId);
  CHECK(http::classifyHeader("Content-Type") == HeaderKind::kOther);
  CHECK(http::classifyHeader("") == HeaderKind::kOther);
}

TEST_CASE("hop-by-hop kinds are exactly RFC 9110's connection headers") {
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                           "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
                           "Proxy-Authenticate"}) {
    INFO(name);
    CHECK(http::isHopByHop(http::classifyHeader(name)));
  }
  for (const char* name : {"Host", "Content-Length", "X-Request-Id", "Cookie"}) {
    INFO(name);
    CHECK_FALSE(http::isHopByHop(http::classifyHeader(name)));
  }
}

TEST_CASE("a header list joins pieces and finds by name or kind") {
  HeaderList h;
  h.appendName("Ho", 2);
  h.appendName("st", 2);
  h.endName();
  h.appendValue("shop", 4);
  h.appendValue(".test", 5);
  h.appendName("X-Empty", 7);
  h.endName();
  h.appendName("Connection", 10);
  h.endName();
  h.appendValue("close", 5);
  REQUIRE(h.size() == 3);
  CHECK(h.name(0) == "Host");
  CHECK(h.value(0) == "shop.test");
  CHECK(h.value(1).empty());
  CHECK(h.find("HOST") == "shop.test");
  CHECK(h.find(HeaderKind::kConnection) == "close");
  bool found = true;
  CHECK(h.find(HeaderKind::kXRequestId, &found).empty());
  CHECK_FALSE(found);
  h.clear();
  CHECK(h.size() == 0);
}
