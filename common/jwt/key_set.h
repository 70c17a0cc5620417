#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/types.h>

namespace jwt {

// The signature algorithms supported; each key is pinned to exactly one.
enum class Algorithm { kES256, kRS256, kPS256, kEdDSA, kHS256 };

// The JOSE name ("ES256", ...).
const char* algorithmName(Algorithm alg);
// Maps a JOSE "alg" to an Algorithm; nullopt for anything else, "none" included.
// "Ed25519" (RFC 9864's fully specified name) is the same signature as "EdDSA" here.
std::optional<Algorithm> parseAlgorithm(std::string_view name);

struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct Key {
  std::string kid;
  Algorithm alg = Algorithm::kES256;
  PkeyPtr pkey;        // public key; null for HS256
  std::string secret;  // HS256 only: the raw HMAC key
};

// A JWKS (RFC 7517) loaded once: every key is parsed, checked and turned into an EVP_PKEY at
// load, so verification only looks keys up. Immutable after load, so one KeySet may be shared
// by all worker threads (OpenSSL allows concurrent use of one EVP_PKEY for verification);
// a reload builds a new KeySet.
//
// Pinning: EC P-256 -> ES256, OKP Ed25519 -> EdDSA, oct -> HS256 (an "alg" in the JWK must then
// agree), RSA -> its "alg", which must be RS256 or PS256 and must be present. Every key needs
// a unique "kid". Keys with "use" other than "sig", RSA keys under 2048 bits, oct keys under
// 256 bits and public-key JWKs that carry private material ("d", ...) are refused.
class KeySet {
 public:
  // Parses a JWKS JSON document. Returns nullopt and sets *error on any problem, naming the
  // key ("key 2 (kid \"a\"): ...") and what is wrong; a set is loaded whole or not at all.
  static std::optional<KeySet> parse(std::string_view json, std::string* error);
  // Reads and parses a JWKS file; errors start with the path.
  static std::optional<KeySet> loadFile(const std::string& path, std::string* error);

  // The key with this kid, or nullptr.
  const Key* find(std::string_view kid) const;
  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, Key, std::less<>> keys_;
};

}  // namespace jwt
