#include <catch2/catch.hpp>

#include "common/jwt/verifier.h"
#include "test_keys.h"

using jwt::Reason;
using jwt::Result;
using jwt::Verifier;
using nlohmann::json;
using namespace jwt_test;

namespace {

constexpr int64_t kNow = 1'800'000'000;

Verifier makeVerifier(jwt::Options options = {}) {
  std::string error;
  std::optional<jwt::KeySet> keys = jwt::KeySet::parse(allKeys(), &error);
  REQUIRE(keys);
  if (options.issuer.empty()) {
    options.issuer = "https://users.local";
  }
  if (options.audience.empty()) {
    options.audience = "shop";
  }
  return Verifier(std::make_shared<const jwt::KeySet>(std::move(*keys)), std::move(options));
}

json header(const char* kid = "h1", const char* alg = "HS256") {
  return json{{"alg", alg}, {"kid", kid}, {"typ", "JWT"}};
}

json claims() {
  return json{{"iss", "https://users.local"},  {"aud", "shop"},     {"sub", "42"},
              {"roles", {"admin", "courier"}}, {"exp", kNow + 600}, {"iat", kNow - 10}};
}

Reason reasonOf(const Verifier& verifier, const std::string& token, int64_t now = kNow) {
  return verifier.verify(token, now).reason;
}

std::string withClaim(const char* name, const json& value) {
  json payload = claims();
  payload[name] = value;
  return hs256(header(), payload);
}

std::string withoutClaim(const char* name) {
  json payload = claims();
  payload.erase(name);
  return hs256(header(), payload);
}

}  // namespace

TEST_CASE("reason names are stable") {
  CHECK(std::string(jwt::reasonName(Reason::kOk)) == "ok");
  CHECK(std::string(jwt::reasonName(Reason::kMalformed)) == "malformed");
  CHECK(std::string(jwt::reasonName(Reason::kBadSignature)) == "bad_signature");
  CHECK(std::string(jwt::reasonName(Reason::kUnknownKid)) == "unknown_kid");
  CHECK(std::string(jwt::reasonName(Reason::kAlgMismatch)) == "alg_mismatch");
  CHECK(std::string(jwt::reasonName(Reason::kExpired)) == "expired");
  CHECK(std::string(jwt::reasonName(Reason::kNotYetValid)) == "not_yet_valid");
  CHECK(std::string(jwt::reasonName(Reason::kIssuedInFuture)) == "issued_in_future");
  CHECK(std::string(jwt::reasonName(Reason::kBadIssuer)) == "bad_issuer");
  CHECK(std::string(jwt::reasonName(Reason::kBadAudience)) == "bad_audience");
  CHECK(std::string(jwt::reasonName(Reason::kTooLarge)) == "too_large");
}

TEST_CASE("a valid token yields its claims") {
  Verifier verifier = makeVerifier();
  Result result = verifier.verify(hs256(header(), claims()), kNow);
  REQUIRE(result.ok);
  CHECK(result.reason == Reason::kOk);
  CHECK(result.claims.sub == "42");
  CHECK(result.claims.roles == std::vector<std::string>{"admin", "courier"});
  CHECK(result.claims.hasRole("courier"));
  CHECK_FALSE(result.claims.hasRole("cour"));
  CHECK(result.claims.exp == kNow + 600);
  CHECK(result.claims.claim("sub") == "42");
  CHECK(result.claims.claim("roles") == "admin,courier");
  CHECK(result.claims.claim("exp") == std::to_string(kNow + 600));
  CHECK(result.claims.claim("aud") == "shop");
  CHECK_FALSE(result.claims.claim("email"));
}

TEST_CASE("claims as header text: roles strings, other types, control characters") {
  Verifier verifier = makeVerifier();
  json payload = claims();
  payload["roles"] = "admin courier,  viewer";
  payload["verified"] = true;
  payload["org"] = {{"id", 7}};
  payload["scores"] = {1, 2};
  payload["evil"] = "x\r\nX-User-Id: 1";
  Result result = verifier.verify(hs256(header(), payload), kNow);
  REQUIRE(result.ok);
  CHECK(result.claims.roles == std::vector<std::string>{"admin", "courier", "viewer"});
  CHECK(result.claims.claim("roles") == "admin,courier,viewer");
  CHECK(result.claims.claim("verified") == "true");
  CHECK(result.claims.claim("org") == R"({"id":7})");
  CHECK(result.claims.claim("scores") == "[1,2]");
  CHECK_FALSE(result.claims.claim("evil"));  // would split a header

  jwt::Options options;
  options.kept_claims = {"sub", "roles"};
  Verifier narrow = makeVerifier(options);
  result = narrow.verify(hs256(header(), payload), kNow);
  REQUIRE(result.ok);
  CHECK(result.claims.text.size() == 2);
  CHECK(result.claims.claim("sub") == "42");
  CHECK_FALSE(result.claims.claim("verified"));
}

TEST_CASE("time claims with leeway") {
  jwt::Options options;
  options.leeway_seconds = 30;
  Verifier verifier = makeVerifier(options);
  Verifier strict = makeVerifier();

  CHECK(reasonOf(strict, withClaim("exp", kNow)) == Reason::kExpired);
  CHECK(reasonOf(strict, withClaim("exp", kNow + 1)) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("exp", kNow - 29)) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("exp", kNow - 30)) == Reason::kExpired);
  CHECK(reasonOf(strict, withClaim("exp", 1.5e9)) == Reason::kExpired);
  CHECK(reasonOf(strict, withClaim("exp", 1e300)) == Reason::kOk);

  CHECK(reasonOf(strict, withClaim("nbf", kNow + 1)) == Reason::kNotYetValid);
  CHECK(reasonOf(strict, withClaim("nbf", kNow)) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("nbf", kNow + 30)) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("nbf", kNow + 31)) == Reason::kNotYetValid);

  CHECK(reasonOf(strict, withClaim("iat", kNow + 1)) == Reason::kIssuedInFuture);
  CHECK(reasonOf(verifier, withClaim("iat", kNow + 30)) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("iat", kNow + 31)) == Reason::kIssuedInFuture);
  CHECK(reasonOf(strict, withoutClaim("iat")) == Reason::kOk);
}

TEST_CASE("issuer and audience") {
  Verifier verifier = makeVerifier();
  CHECK(reasonOf(verifier, withClaim("iss", "https://evil.local")) == Reason::kBadIssuer);
  CHECK(reasonOf(verifier, withClaim("iss", 1)) == Reason::kBadIssuer);
  CHECK(reasonOf(verifier, withoutClaim("iss")) == Reason::kBadIssuer);
  CHECK(reasonOf(verifier, withClaim("aud", "other")) == Reason::kBadAudience);
  CHECK(reasonOf(verifier, withClaim("aud", {"other", "shop"})) == Reason::kOk);
  CHECK(reasonOf(verifier, withClaim("aud", {"other", 1})) == Reason::kBadAudience);
  CHECK(reasonOf(verifier, withClaim("aud", json::array())) == Reason::kBadAudience);
  CHECK(reasonOf(verifier, withoutClaim("aud")) == Reason::kBadAudience);
}

TEST_CASE("keys: unknown kid and the algorithm pin") {
  Verifier verifier = makeVerifier();
  CHECK(reasonOf(verifier, hs256(header("h2"), claims())) == Reason::kUnknownKid);
  CHECK(reasonOf(verifier, hs256(json{{"alg", "HS256"}}, claims())) == Reason::kUnknownKid);
  // alg none, with or without a kid, and with an empty signature.
  std::string none =
      jwt::encodeBase64Url(R"({"alg":"none"})") + "." + jwt::encodeBase64Url(claims().dump()) + ".";
  CHECK(reasonOf(verifier, none) == Reason::kAlgMismatch);
  CHECK(reasonOf(verifier, hs256(header("h1", "none"), claims())) == Reason::kAlgMismatch);
  CHECK(reasonOf(verifier, hs256(header("h1", "HS512"), claims())) == Reason::kAlgMismatch);
  // The classic confusion: an HS256 token naming an RSA key, "signed" with anything.
  CHECK(reasonOf(verifier, hs256(header("r1"), claims(), "public key bytes")) ==
        Reason::kAlgMismatch);
  CHECK(reasonOf(verifier, hs256(header("h1", "RS256"), claims())) == Reason::kAlgMismatch);
  CHECK(reasonOf(verifier, hs256(header("e1", "PS256"), claims())) == Reason::kAlgMismatch);
}

TEST_CASE("signatures that do not verify") {
  Verifier verifier = makeVerifier();
  std::string token = hs256(header(), claims());
  CHECK(reasonOf(verifier, hs256(header(), claims(), kSecret + "x")) == Reason::kBadSignature);

  // Tampered payload: same header and signature, another subject.
  json other = claims();
  other["sub"] = "1";
  size_t dot1 = token.find('.');
  size_t dot2 = token.rfind('.');
  std::string tampered =
      token.substr(0, dot1 + 1) + jwt::encodeBase64Url(other.dump()) + token.substr(dot2);
  CHECK(reasonOf(verifier, tampered) == Reason::kBadSignature);
  // Truncated and empty signatures.
  CHECK(reasonOf(verifier, token.substr(0, token.size() - 3)) == Reason::kBadSignature);
  CHECK(reasonOf(verifier, token.substr(0, dot2 + 1)) == Reason::kBadSignature);

  // Public-key algorithms: garbage and wrongly sized signatures never verify.
  std::string body = jwt::encodeBase64Url(claims().dump());
  for (const char* kid_alg : {"e1:ES256", "r1:RS256", "d1:EdDSA"}) {
    std::string kid(kid_alg, 2);
    std::string alg(kid_alg + 3);
    std::string input = jwt::encodeBase64Url(header(kid.c_str(), alg.c_str()).dump()) + "." + body;
    for (size_t length : {0, 1, 63, 64, 65, 72, 256, 300}) {
      INFO(alg << " signature of " << length << " bytes");
      std::string sig(length, '\x5a');
      CHECK(reasonOf(verifier, input + "." + jwt::encodeBase64Url(sig)) == Reason::kBadSignature);
    }
  }
}

TEST_CASE("malformed tokens") {
  Verifier verifier = makeVerifier();
  std::string token = hs256(header(), claims());
  size_t dot2 = token.rfind('.');
  CHECK(reasonOf(verifier, "") == Reason::kMalformed);
  CHECK(reasonOf(verifier, "abc") == Reason::kMalformed);
  CHECK(reasonOf(verifier, token.substr(0, dot2)) == Reason::kMalformed);  // two segments
  CHECK(reasonOf(verifier, token + ".x") == Reason::kMalformed);           // four
  CHECK(reasonOf(verifier, "..") == Reason::kMalformed);
  CHECK(reasonOf(verifier, "*" + token) == Reason::kMalformed);  // bad base64url
  CHECK(reasonOf(verifier, token.substr(0, dot2) + ".a+b/") == Reason::kMalformed);
  CHECK(reasonOf(verifier, "Bearer " + token) == Reason::kMalformed);

  CHECK(reasonOf(verifier, hs256Raw("not json", claims().dump())) == Reason::kMalformed);
  CHECK(reasonOf(verifier, hs256Raw("[1]", claims().dump())) == Reason::kMalformed);
  CHECK(reasonOf(verifier, hs256Raw(R"({"alg":1,"kid":"h1"})", claims().dump())) ==
        Reason::kMalformed);
  CHECK(reasonOf(verifier, hs256Raw(R"({"alg":"HS256","kid":7})", claims().dump())) ==
        Reason::kMalformed);
  json critical = header();
  critical["crit"] = {"exp"};
  CHECK(reasonOf(verifier, hs256(critical, claims())) == Reason::kMalformed);

  // Signed correctly but with an unusable payload.
  CHECK(reasonOf(verifier, hs256Raw(header().dump(), "{\"exp\":")) == Reason::kMalformed);
  CHECK(reasonOf(verifier, hs256Raw(header().dump(), "\"text\"")) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withoutClaim("exp")) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withClaim("exp", "soon")) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withClaim("nbf", nullptr)) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withClaim("sub", 42)) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withClaim("roles", {"admin", 1})) == Reason::kMalformed);
  CHECK(reasonOf(verifier, withClaim("roles", 3)) == Reason::kMalformed);
}

TEST_CASE("tokens over the size limit are refused before anything else") {
  jwt::Options options;
  options.max_token_bytes = 1024;
  Verifier verifier = makeVerifier(options);
  std::string big = withClaim("pad", std::string(2000, 'a'));
  CHECK(reasonOf(verifier, big) == Reason::kTooLarge);
  CHECK(reasonOf(verifier, std::string(1025, '.')) == Reason::kTooLarge);
  CHECK(reasonOf(verifier, withClaim("pad", std::string(100, 'a'))) == Reason::kOk);
  CHECK(reasonOf(makeVerifier(), big) == Reason::kOk);  // default limit: 8 KiB
}

TEST_CASE("a failed verification returns no claims") {
  Verifier verifier = makeVerifier();
  Result result = verifier.verify(withClaim("exp", kNow - 1), kNow);
  CHECK_FALSE(result.ok);
  CHECK(result.claims.sub.empty());
  CHECK(result.claims.text.empty());
}
