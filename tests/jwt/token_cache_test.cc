#include <catch2/catch.hpp>

#include "common/jwt/token_cache.h"
#include "test_keys.h"

using jwt::Claims;
using jwt::Reason;
using jwt::TokenCache;
using nlohmann::json;
using namespace jwt_test;

namespace {

constexpr int64_t kNow = 1'800'000'000;

Claims claimsFor(const std::string& sub, int64_t exp) {
  Claims claims;
  claims.sub = sub;
  claims.exp = exp;
  return claims;
}

jwt::Verifier makeVerifier(int64_t leeway = 0) {
  std::string error;
  std::optional<jwt::KeySet> keys = jwt::KeySet::parse(allKeys(), &error);
  REQUIRE(keys);
  jwt::Options options;
  options.issuer = "iss";
  options.audience = "aud";
  options.leeway_seconds = leeway;
  return jwt::Verifier(std::make_shared<const jwt::KeySet>(std::move(*keys)), options);
}

std::string token(const std::string& sub, int64_t exp) {
  return hs256(json{{"alg", "HS256"}, {"kid", "h1"}},
               json{{"iss", "iss"}, {"aud", "aud"}, {"sub", sub}, {"exp", exp}});
}

}  // namespace

TEST_CASE("cached claims are returned until the token's exp") {
  TokenCache cache(4);
  CHECK(cache.get("a.b.c", kNow) == nullptr);
  const Claims* stored = cache.put("a.b.c", claimsFor("7", kNow + 10), kNow);
  REQUIRE(stored != nullptr);
  CHECK(stored->sub == "7");
  const Claims* hit = cache.get("a.b.c", kNow + 9);
  REQUIRE(hit != nullptr);
  CHECK(hit->sub == "7");
  CHECK(cache.get("a.b.d", kNow) == nullptr);       // another token
  CHECK(cache.get("a.b.c", kNow + 10) == nullptr);  // expired: dropped
  CHECK(cache.size() == 0);
  CHECK(cache.put("x", claimsFor("8", kNow), kNow) == nullptr);  // already expired
  CHECK(cache.size() == 0);
}

TEST_CASE("a full cache evicts the least recently used entry") {
  TokenCache cache(2);
  cache.put("t1", claimsFor("1", kNow + 100), kNow);
  cache.put("t2", claimsFor("2", kNow + 100), kNow);
  CHECK(cache.get("t1", kNow) != nullptr);  // t2 is now the least recently used
  cache.put("t3", claimsFor("3", kNow + 100), kNow);
  CHECK(cache.size() == 2);
  CHECK(cache.get("t2", kNow) == nullptr);
  CHECK(cache.get("t1", kNow)->sub == "1");
  CHECK(cache.get("t3", kNow)->sub == "3");

  // Putting a token again replaces its claims without growing.
  cache.put("t3", claimsFor("33", kNow + 100), kNow);
  CHECK(cache.size() == 2);
  CHECK(cache.get("t3", kNow)->sub == "33");

  cache.clear();
  CHECK(cache.size() == 0);
  CHECK(cache.get("t1", kNow) == nullptr);
}

TEST_CASE("verify through the cache stores accepted tokens only") {
  jwt::Verifier verifier = makeVerifier();
  TokenCache cache(16);
  Reason reason = Reason::kMalformed;
  std::string good = token("5", kNow + 60);

  const Claims* claims = cache.verify(verifier, good, kNow, &reason);
  REQUIRE(claims != nullptr);
  CHECK(reason == Reason::kOk);
  CHECK(claims->sub == "5");
  CHECK(cache.size() == 1);
  CHECK(cache.get(good, kNow + 59) != nullptr);
  claims = cache.verify(verifier, good, kNow + 1, &reason);  // a hit
  REQUIRE(claims != nullptr);
  CHECK(claims->sub == "5");

  CHECK(cache.verify(verifier, good, kNow + 60, &reason) == nullptr);
  CHECK(reason == Reason::kExpired);
  CHECK(cache.size() == 0);

  CHECK(cache.verify(verifier, token("6", kNow - 1), kNow, &reason) == nullptr);
  CHECK(reason == Reason::kExpired);
  CHECK(cache.verify(verifier, "junk", kNow, &reason) == nullptr);
  CHECK(reason == Reason::kMalformed);
  CHECK(cache.verify(verifier, std::string(9000, 'a'), kNow, &reason) == nullptr);
  CHECK(reason == Reason::kTooLarge);
  CHECK(cache.size() == 0);
}

TEST_CASE("tokens accepted within the leeway past exp are answered but not cached") {
  jwt::Verifier verifier = makeVerifier(30);
  TokenCache cache(16);
  Reason reason = Reason::kMalformed;
  const Claims* claims = cache.verify(verifier, token("9", kNow - 5), kNow, &reason);
  REQUIRE(claims != nullptr);
  CHECK(reason == Reason::kOk);
  CHECK(claims->sub == "9");
  CHECK(cache.size() == 0);

  TokenCache none(0);
  claims = none.verify(verifier, token("10", kNow + 100), kNow, &reason);
  REQUIRE(claims != nullptr);
  CHECK(claims->sub == "10");
  CHECK(none.size() == 0);
}
