#pragma once

// Shared fixtures for the JWT unit tests: public JWKs made once with npm jose, and HS256
// tokens built here with OpenSSL's HMAC so claim checks can be tested without a minting tool.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/jwt/base64url.h"

namespace jwt_test {

inline const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 256 bits

inline const char* const kEcJwk = R"({"kty":"EC","kid":"e1","crv":"P-256",)"
                                  R"("x":"pfNgofPoa0wYQGvchl_ahe83uihyPFHT15Gu_pDhL4A",)"
                                  R"("y":"oMOp7FrQ5RMnBLLdfEst41lEUSp0SiASnrj9DaLVzlc"})";

inline const char* const kRsaN =
    "tAzCxWGp6LVvFzEN_6QGuzu_U7qE6rdwQDy39H0hQt7j-u_VcbLV-ThJAZ5opND9r7cKyUdafu4EUqeKB4gPLsLXwsqd"
    "8PMPV9fvp-9aPVGn0SoUSJQy3uah3_6GYmCdTLjrCQH8Ie-bTf1psqZjXddHVjFO5g0OKnpbABW9cLGZEBoib5JRMl24"
    "KIlkPOJWCNBhlEcWxNSD64RzbCVhtOVNpywn7O83ZItJHPRbUkpOBafFKomCQ4QuNaE2VGUQiQny-dlumHza5aVSazMx"
    "iqGUiE9_fi99Pfvxt7toUpiL4YGCpFy1yv85mWRSZeFt6oSfKuB50FlvHm3hfZ9RNw";

inline std::string rsaJwk(std::string_view kid, std::string_view alg) {
  std::string jwk = R"({"kty":"RSA","kid":")" + std::string(kid) + "\"";
  if (!alg.empty()) {
    jwk += R"(,"alg":")" + std::string(alg) + "\"";
  }
  return jwk + R"(,"e":"AQAB","n":")" + kRsaN + "\"}";
}

inline const char* const kEdJwk =
    R"({"kty":"OKP","kid":"d1","crv":"Ed25519","x":"OheJxci-2WY-EkfR7cEtockyhLmTZLte8_EwaSlXdjQ"})";

inline std::string octJwk(std::string_view kid, std::string_view secret) {
  return R"({"kty":"oct","kid":")" + std::string(kid) + R"(","k":")" +
         jwt::encodeBase64Url(secret) + "\"}";
}

// A JWKS with one key of each type: h1 (HS256), r1 (RS256), e1 (ES256), d1 (EdDSA).
inline std::string allKeys() {
  return R"({"keys":[)" + octJwk("h1", kSecret) + "," + rsaJwk("r1", "RS256") + "," + kEdJwk + "," +
         kEcJwk + "]}";
}

inline std::string hmacSha256(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

// header.payload.signature with raw JSON texts, signed with HS256 under `secret`.
inline std::string hs256Raw(std::string_view header_json, std::string_view payload_json,
                            std::string_view secret = kSecret) {
  std::string input = jwt::encodeBase64Url(header_json) + "." + jwt::encodeBase64Url(payload_json);
  return input + "." + jwt::encodeBase64Url(hmacSha256(secret, input));
}

inline std::string hs256(const nlohmann::json& header, const nlohmann::json& payload,
                         std::string_view secret = kSecret) {
  return hs256Raw(header.dump(), payload.dump(), secret);
}

}  // namespace jwt_test
