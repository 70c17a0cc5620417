// ws handshake helpers: the accept value, key validation, header tokens.
#include <catch2/catch.hpp>

#include <string>

#include "common/http/header_list.h"
#include "common/ws/handshake.h"

namespace {
http::HeaderList headersOf(std::initializer_list<std::pair<std::string, std::string>> fields) {
  http::HeaderList list;
  for (const auto& [name, value] : fields) {
    list.appendName(name.data(), name.size());
    list.endName();
    list.appendValue(value.data(), value.size());
  }
  return list;
}
}  // namespace

// The value printed in RFC 6455 1.3 (and what Python's hashlib gives).
TEST_CASE("Sec-WebSocket-Accept of RFC 6455's example key") {
  CHECK(ws::acceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a key must be base64 of 16 bytes") {
  CHECK(ws::isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
  CHECK_FALSE(ws::isValidKey(""));
  CHECK_FALSE(ws::isValidKey("dGhlIHNhbXBsZSBub25jZQ"));            // no padding
  CHECK_FALSE(ws::isValidKey("dGhlIHNhbXBsZSBub25jZQ=a"));          // bad padding
  CHECK_FALSE(ws::isValidKey("dGhlIHNhbXBsZS*ub25jZQ=="));          // outside the alphabet
  CHECK_FALSE(ws::isValidKey("dGhlIHNhbXBsZSBub25jZSBzYW1wbGU="));  // 23 bytes
}

TEST_CASE("header tokens are found in lists, across fields, in any case") {
  auto h = headersOf({{"Connection", "keep-alive, Upgrade"}, {"upgrade", "WebSocket"}});
  CHECK(ws::headerHasToken(h, "connection", "upgrade"));
  CHECK(ws::headerHasToken(h, "Upgrade", "websocket"));
  CHECK_FALSE(ws::headerHasToken(h, "Connection", "close"));
  auto split = headersOf({{"Connection", "keep-alive"}, {"Connection", " upgrade "}});
  CHECK(ws::headerHasToken(split, "Connection", "upgrade"));
  auto partial = headersOf({{"Connection", "upgraded"}});
  CHECK_FALSE(ws::headerHasToken(partial, "Connection", "upgrade"));
}
