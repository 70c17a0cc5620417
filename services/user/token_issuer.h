#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/jwt/key_set.h"

namespace user_service {

struct TokenIssuerOptions {
  std::string issuer;            // "iss"; the balancer's jwt.issuer (required)
  std::string audience;          // "aud"; the balancer's jwt.audience (required)
  int64_t ttl_seconds = 900;     // exp = iat + ttl; also the login answer's expires_in
};

// Mints the access tokens the balancer verifies (common/jwt): ES256 compact JWS signed with
// EC P-256 private keys, and publishes their public halves as a JWKS.
//
// Rotation: load [new, old]. The first key signs; every key is published, so tokens signed
// by the old key stay valid until they expire; then drop the old one. Each key's kid is its
// RFC 7638 JWK thumbprint, so every instance of the service derives the same kid from the
// same key without configuration.
//
// Immutable after load: one issuer may serve all threads (OpenSSL 3 allows concurrent
// signing with one EVP_PKEY, each call with its own context).
class TokenIssuer {
 public:
  // Loads PEM private keys (PKCS#8 or SEC1 "EC PRIVATE KEY", unencrypted), each EC P-256.
  // Returns nullopt and sets *error (naming the file) on an unreadable or wrong key, an empty
  // list, the same key twice, or empty issuer/audience or ttl <= 0.
  static std::optional<TokenIssuer> loadFiles(const std::vector<std::string>& pem_paths,
                                              TokenIssuerOptions options, std::string* error);
  // The same from PEM texts in memory (errors name "key N", from 1).
  static std::optional<TokenIssuer> fromPem(const std::vector<std::string>& pems,
                                            TokenIssuerOptions options, std::string* error);

  // A token for `subject` (the user id in decimal) with `roles`, issued at `now_seconds`
  // (Unix time): header {"alg":"ES256","typ":"JWT","kid"}, claims iss, sub, aud, iat, exp,
  // jti (128 random bits), roles. Throws std::runtime_error only if OpenSSL fails.
  std::string issue(std::string_view subject, const std::vector<std::string>& roles,
                    int64_t now_seconds) const;

  // {"keys":[{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}, ...]},
  // the signing key first.
  std::string jwksJson() const;

  // Writes jwksJson() to `path` atomically: a temporary file in the same folder, fsync'd,
  // made world-readable (it holds only public keys) and renamed over `path`, so a reader
  // (the balancer on SIGHUP) sees the old file or the new one, never half of one. Several
  // instances may write the same path at once. Returns false and sets *error on failure.
  bool writeJwksFile(const std::string& path, std::string* error) const;

  const std::string& signingKid() const { return keys_.front().kid; }
  const TokenIssuerOptions& options() const { return options_; }

 private:
  struct SigningKey {
    jwt::PkeyPtr pkey;  // private
    std::string kid;    // RFC 7638 thumbprint
    std::string x;      // base64url affine coordinates, 32 bytes each
    std::string y;
  };

  TokenIssuer(std::vector<SigningKey> keys, TokenIssuerOptions options);
  // fromPem() and loadFiles(): errors start with names[i] ("key 1", a path).
  static std::optional<TokenIssuer> build(const std::vector<std::string>& pems,
                                          const std::vector<std::string>& names,
                                          TokenIssuerOptions options, std::string* error);

  std::vector<SigningKey> keys_;
  TokenIssuerOptions options_;
};

}  // namespace user_service
