#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/jwt/key_set.h"

namespace jwt {

// Why a token was refused. reasonName() gives each a stable name for metrics labels
// (balancer_jwt_rejected_total{reason}) and logs.
enum class Reason {
  kOk,
  kMalformed,       // not three base64url segments of JSON objects, missing exp, bad claim types
  kBadSignature,    // the signature does not verify (tampered header, payload or signature)
  kUnknownKid,      // no kid, or one the key set does not have
  kAlgMismatch,     // alg is not the key's pinned algorithm: "none", HS256 with an RSA key, ...
  kExpired,         // now >= exp + leeway
  kNotYetValid,     // now + leeway < nbf
  kIssuedInFuture,  // iat > now + leeway
  kBadIssuer,       // iss differs from the configured issuer
  kBadAudience,     // aud (string or array) does not contain the configured audience
  kTooLarge,        // longer than Options::max_token_bytes
};

// "ok", "malformed", "bad_signature", "unknown_kid", "alg_mismatch", "expired",
// "not_yet_valid", "issued_in_future", "bad_issuer", "bad_audience", "too_large".
const char* reasonName(Reason reason);

// What a verified token says, as the balancer uses it.
struct Claims {
  std::string sub;                 // "" when the token has none
  std::vector<std::string> roles;  // from an array of strings or a "a b" / "a,b" string
  int64_t exp = 0;                 // seconds since the epoch

  bool hasRole(std::string_view role) const;

  // A top-level claim as header-ready text (for claims_to_headers): strings as they are,
  // numbers in decimal, booleans as true/false, arrays of strings joined with ',' (roles
  // always so, whatever its form in the token), anything else as compact JSON. Returns
  // nullopt when the token lacks the claim, when the verifier was told not to keep it
  // (Options::kept_claims), or when its text holds control characters, which could split a
  // header. The view lives as long as this Claims.
  std::optional<std::string_view> claim(std::string_view name) const;

  std::vector<std::pair<std::string, std::string>> text;  // name, value (see claim())
};

struct Result {
  bool ok = false;
  Reason reason = Reason::kMalformed;
  Claims claims;  // filled when ok
};

struct Options {
  std::string issuer;          // required value of iss; empty: not checked
  std::string audience;        // must be aud or in aud; empty: not checked
  int64_t leeway_seconds = 0;  // clock skew allowed on exp, nbf and iat
  size_t max_token_bytes = 8192;
  // Claims kept as text for Claims::claim(): the balancer passes its claims_to_headers names.
  // Empty keeps every top-level claim.
  std::vector<std::string> kept_claims;
};

// Verifies compact JWS tokens (RFC 7515/7519) against a key set. The token's kid chooses the
// key and its alg must equal the key's pinned algorithm. Order of checks: size, shape and
// base64url, header JSON, alg known, kid known, alg == pinned alg, signature, payload JSON,
// iss, aud, exp, nbf, iat. No exception leaves verify(): every failure is a Reason.
//
// verify() is const and the Verifier immutable, so one Verifier (and its KeySet) may serve
// all worker threads. A token not yet cached costs a signature check through OpenSSL and a
// JSON parse; put a TokenCache in front of it for repeated tokens.
class Verifier {
 public:
  // `keys` must not be null.
  Verifier(std::shared_ptr<const KeySet> keys, Options options);

  // Verifies `token` (the bare JWS, without "Bearer ") at `now_seconds` (Unix time).
  Result verify(std::string_view token, int64_t now_seconds) const;

  const Options& options() const { return options_; }
  const KeySet& keys() const { return *keys_; }

 private:
  Reason checkClaims(std::string_view payload_json, int64_t now, Claims* claims) const;

  std::shared_ptr<const KeySet> keys_;
  Options options_;
};

}  // namespace jwt
