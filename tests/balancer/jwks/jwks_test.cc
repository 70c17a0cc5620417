#include <catch2/catch.hpp>

#include "balancer/jwks/jwks_fetcher.h"
#include "balancer/jwks/jwks_url.h"

using balancer::jwks::checkJwksUrl;
using balancer::jwks::Millis;
using balancer::jwks::refreshAfter;

TEST_CASE("jwks_url: https anywhere, http only to loopback unless allowed") {
  CHECK(checkJwksUrl("https://users.example.com/.well-known/jwks.json", false).empty());
  CHECK(checkJwksUrl("HTTPS://users.example.com:8443/jwks", false).empty());
  CHECK(checkJwksUrl("http://127.0.0.1:7001/.well-known/jwks.json", false).empty());
  CHECK(checkJwksUrl("http://127.8.9.10/jwks", false).empty());
  CHECK(checkJwksUrl("http://localhost:7001/jwks", false).empty());
  CHECK(checkJwksUrl("http://[::1]:7001/jwks", false).empty());
  CHECK_FALSE(checkJwksUrl("http://users.example.com/jwks", false).empty());
  CHECK_FALSE(checkJwksUrl("http://10.0.0.1/jwks", false).empty());
  // A loopback-looking user part does not make the host loopback.
  CHECK_FALSE(checkJwksUrl("http://127.0.0.1@evil.example/jwks", false).empty());
  CHECK_FALSE(checkJwksUrl("http://localhost.evil.example/jwks", false).empty());
  CHECK(checkJwksUrl("http://user.shop.svc.cluster.local:7001/jwks", true).empty());
  CHECK_FALSE(checkJwksUrl("ftp://example.com/jwks", true).empty());
  CHECK_FALSE(checkJwksUrl("file:///etc/jwks.json", true).empty());
  CHECK_FALSE(checkJwksUrl("https:///jwks", false).empty());
  CHECK_FALSE(checkJwksUrl("jwks.json", false).empty());
}

TEST_CASE("refresh: max-age clamped to the bounds; max without one, min for no-cache") {
  const Millis min{30000}, max{3600000};
  CHECK(refreshAfter("public, max-age=300", min, max) == Millis(300000));
  CHECK(refreshAfter("max-age=5", min, max) == min);
  CHECK(refreshAfter("max-age=86400", min, max) == max);
  CHECK(refreshAfter("", min, max) == max);
  CHECK(refreshAfter("public", min, max) == max);
  CHECK(refreshAfter("no-cache", min, max) == min);
  CHECK(refreshAfter("no-store, max-age=600", min, max) == min);
  CHECK(refreshAfter("max-age=soon", min, max) == min);
  CHECK(refreshAfter("max-age=0", min, max) == min);
}
