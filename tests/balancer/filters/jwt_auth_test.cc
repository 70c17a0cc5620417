#include "balancer/filters/jwt_auth.h"

#include <catch2/catch.hpp>
#include <string>

#include "filter_fixture.h"

using balancer::AuthMode;
using balancer::filters::JwtAuth;
using nlohmann::json;
using namespace filters_test;

namespace {

const char* const kChallenge = "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";

JwtAuth required(std::vector<std::string> roles = {},
                 std::vector<std::pair<std::string, std::string>> claims = {}) {
  return JwtAuth(AuthMode::kJwt, std::move(roles), std::move(claims));
}

void checkUnauthorized(const Verdict& v, const std::string& message) {
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 401);
  CHECK(v.message == message);
  CHECK(v.headers == kChallenge);
}

}  // namespace

TEST_CASE("jwt_auth refuses a request without a token with a Bearer challenge", "[filters]") {
  FilterFixture f;
  JwtAuth auth = required();
  Verdict v = auth.onRequestHead(f.request("/orders", {}, 1));
  checkUnauthorized(v, "missing bearer token");
  CHECK(f.jwtRejected(1, "missing") == 1);
  CHECK(f.jwtRejected(0, "missing") == 0);  // counted on the request's route
  CHECK(f.user.empty());

  // Another scheme is no bearer token either.
  v = auth.onRequestHead(f.request("/orders", {{"Authorization", "Basic YTpi"}}, 1));
  checkUnauthorized(v, "missing bearer token");
  CHECK(f.jwtRejected(1, "missing") == 2);
}

TEST_CASE("jwt_optional lets a request without a token go on with no identity", "[filters]") {
  FilterFixture f;
  JwtAuth auth(AuthMode::kJwtOptional, {}, {{"sub", "X-User-Id"}});
  CHECK(auth.onRequestHead(f.request("/catalog")).goesOn());
  CHECK(f.user.empty());
  CHECK(f.identity.empty());
  CHECK(f.jwtRejected(0, "missing") == 0);

  // Optional is not lenient about a bad token.
  Verdict v = auth.onRequestHead(
      f.request("/catalog", {{"Authorization", "Bearer " + tokenFor({}, "another secret")}}));
  checkUnauthorized(v, "invalid token: bad_signature");
}

TEST_CASE("jwt_auth refuses a bad signature or an expired token with its reason", "[filters]") {
  FilterFixture f;
  JwtAuth auth = required();
  std::string forged = tokenFor({}, "0123456789abcdef0123456789abcdeX");
  Verdict v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer " + forged}}));
  checkUnauthorized(v, "invalid token: bad_signature");
  CHECK(f.jwtRejected(0, "bad_signature") == 1);
  CHECK(f.user.empty());

  std::string expired = tokenFor({{"exp", static_cast<int64_t>(time(nullptr)) - 3600}});
  v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer " + expired}}));
  checkUnauthorized(v, "invalid token: expired");
  CHECK(f.jwtRejected(0, "expired") == 1);

  v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer not.a.token"}}));
  checkUnauthorized(v, "invalid token: malformed");
  CHECK(f.jwtRejected(0, "malformed") == 1);
  CHECK(f.jwtRejected(0, "missing") == 0);
}

TEST_CASE("jwt_auth: an unknown kid is refused at once and asks for the keys again",
          "[filters]") {
  FilterFixture f;
  JwtAuth auth = required();
  nlohmann::json payload = {{"iss", "iss"}, {"aud", "aud"}, {"sub", "alice"},
                            {"exp", static_cast<int64_t>(time(nullptr)) + 3600}};
  std::string rotated = jwt_test::hs256({{"alg", "HS256"}, {"kid", "h2"}}, payload,
                                        jwt_test::kSecret);
  Verdict v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer " + rotated}}));
  checkUnauthorized(v, "invalid token: unknown_kid");
  CHECK(f.services.refetches == 1);
  v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer " + tokenFor({})}}));
  CHECK(v.action == Verdict::Action::kContinue);
  CHECK(f.services.refetches == 1);  // a known kid asks for nothing
}

TEST_CASE("jwt_auth answers 403 when the token lacks every required role", "[filters]") {
  FilterFixture f;
  JwtAuth auth = required({"admin", "ops"});
  std::string user_only = tokenFor({{"roles", json::array({"user"})}});
  Verdict v = auth.onRequestHead(f.request("/admin", {{"Authorization", "Bearer " + user_only}}));
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 403);
  CHECK(v.message == "missing role");
  CHECK(f.jwtRejected(0, "forbidden_role") == 1);
  CHECK(f.user.empty());

  std::string no_roles = tokenFor({});
  v = auth.onRequestHead(f.request("/admin", {{"Authorization", "Bearer " + no_roles}}));
  CHECK(v.status == 403);
  CHECK(f.jwtRejected(0, "forbidden_role") == 2);

  // Any one of the roles is enough.
  std::string ops = tokenFor({{"roles", json::array({"user", "ops"})}});
  CHECK(auth.onRequestHead(f.request("/admin", {{"Authorization", "Bearer " + ops}})).goesOn());
  CHECK(f.user == "alice");
}

TEST_CASE("jwt_auth sets the user and the identity headers in claims_to_headers order",
          "[filters]") {
  FilterFixture f;
  JwtAuth auth = required({}, {{"tenant", "X-Tenant"},
                               {"sub", "X-User-Id"},
                               {"nickname", "X-Nickname"},  // not in the token: no header
                               {"roles", "X-Roles"}});
  std::string token =
      tokenFor({{"sub", "u-17"}, {"roles", json::array({"a", "b"})}, {"tenant", "acme"}});
  // The scheme is case-insensitive and spaces after it are skipped.
  Verdict v = auth.onRequestHead(f.request("/", {{"Authorization", "bearer   " + token}}));
  CHECK(v.goesOn());
  CHECK(f.user == "u-17");
  CHECK(f.identity == "X-Tenant: acme\r\nX-User-Id: u-17\r\nX-Roles: a,b\r\n");
  CHECK_FALSE(f.ctx.out.drop_access_token);
  CHECK(f.jwtRejected(0, "missing") == 0);

  // The second time the token comes from the cache, with the same result.
  CHECK(f.services.tokenCache().size() == 1);
  v = auth.onRequestHead(f.request("/", {{"Authorization", "Bearer " + token}}));
  CHECK(v.goesOn());
  CHECK(f.user == "u-17");
  CHECK(f.identity == "X-Tenant: acme\r\nX-User-Id: u-17\r\nX-Roles: a,b\r\n");
}

TEST_CASE("jwt_auth takes a WebSocket upgrade's ?access_token= and drops it", "[filters]") {
  FilterFixture f;
  JwtAuth auth = required();
  std::string token = tokenFor({{"sub", "ws-user"}});
  FilterContext& ctx = f.request("/ws?room=1&access_token=" + token, {{"Upgrade", "websocket"}});
  ctx.request.upgrade = true;
  CHECK(auth.onRequestHead(ctx).goesOn());
  CHECK(f.user == "ws-user");
  CHECK(ctx.out.drop_access_token);
}

TEST_CASE("jwt_auth does not take ?access_token= on a request that is no upgrade",
          "[filters]") {
  FilterFixture f;
  JwtAuth auth = required();
  std::string token = tokenFor({});
  FilterContext& ctx = f.request("/orders?access_token=" + token);
  Verdict v = auth.onRequestHead(ctx);
  checkUnauthorized(v, "missing bearer token");
  CHECK_FALSE(ctx.out.drop_access_token);
  CHECK(f.user.empty());
  CHECK(f.jwtRejected(0, "missing") == 1);

  // An upgrade that also sends a bearer header is judged by the header alone, and the query
  // parameter (maybe another token) is still not forwarded.
  FilterContext& both = f.request("/ws?access_token=junk", {{"Authorization", "Bearer " + token}});
  both.request.upgrade = true;
  CHECK(auth.onRequestHead(both).goesOn());
  CHECK(both.out.drop_access_token);
}

TEST_CASE("jwt_auth leaves the token's exp plus leeway for the exchange", "[filters]") {
  FilterFixture f;
  JwtAuth auth(AuthMode::kJwt, {}, {}, 30);
  int64_t exp = static_cast<int64_t>(time(nullptr)) + 100;
  FilterContext& ctx = f.request("/", {{"Authorization", "Bearer " + tokenFor({{"exp", exp}})}});
  CHECK(auth.onRequestHead(ctx).goesOn());
  CHECK(ctx.out.token_expires_s == exp + 30);
  // Anonymous on an optional route: no expiry.
  JwtAuth optional(AuthMode::kJwtOptional, {}, {}, 30);
  FilterContext& anonymous = f.request("/");
  anonymous.out.token_expires_s = 0;
  CHECK(optional.onRequestHead(anonymous).goesOn());
  CHECK(anonymous.out.token_expires_s == 0);
}
