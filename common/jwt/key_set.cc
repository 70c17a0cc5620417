#include "common/jwt/key_set.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/jwt/base64url.h"

namespace jwt {

void PkeyDeleter::operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }

const char* algorithmName(Algorithm alg) {
  switch (alg) {
    case Algorithm::kES256: return "ES256";
    case Algorithm::kRS256: return "RS256";
    case Algorithm::kPS256: return "PS256";
    case Algorithm::kEdDSA: return "EdDSA";
    case Algorithm::kHS256: return "HS256";
  }
  return "?";
}

std::optional<Algorithm> parseAlgorithm(std::string_view name) {
  if (name == "ES256") return Algorithm::kES256;
  if (name == "RS256") return Algorithm::kRS256;
  if (name == "PS256") return Algorithm::kPS256;
  if (name == "EdDSA" || name == "Ed25519") return Algorithm::kEdDSA;
  if (name == "HS256") return Algorithm::kHS256;
  return std::nullopt;
}

namespace {

using Json = nlohmann::json;

struct Deleters {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
  void operator()(BIGNUM* bn) const { BN_free(bn); }
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
template <typename T>
using Owned = std::unique_ptr<T, Deleters>;

constexpr size_t kMinRsaBits = 2048;
constexpr size_t kMinHmacKeyBytes = 32;  // RFC 7518 3.2: at least the hash output size

// Decodes the base64url member `name` of a JWK. Returns false and sets *error when it is
// missing, not a string or not base64url.
bool bytesMember(const Json& jwk, const char* name, std::string* out, std::string* error) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    *error = std::string("missing \"") + name + "\"";
    return false;
  }
  if (!decodeBase64Url(it->get_ref<const std::string&>(), out)) {
    *error = std::string("\"") + name + "\" is not base64url";
    return false;
  }
  return true;
}

// Returns the string member `name`, or "" when absent; false when present but not a string.
bool stringMember(const Json& jwk, const char* name, std::string* out) {
  auto it = jwk.find(name);
  if (it == jwk.end()) {
    out->clear();
    return true;
  }
  if (!it->is_string()) {
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

// Builds a public EVP_PKEY of `type` ("EC", "RSA") from parameters, and checks it (an EC
// point on the curve, ...), so that a bad key fails at load rather than at every request.
PkeyPtr fromParams(const char* type, OSSL_PARAM_BLD* bld, std::string* error) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    *error = std::string("not a valid ") + type + " public key";
    return nullptr;
  }
  PkeyPtr pkey(raw);
  Owned<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    *error = std::string("not a valid ") + type + " public key";
    return nullptr;
  }
  return pkey;
}

PkeyPtr ecKey(const Json& jwk, std::string* error) {
  std::string crv;
  if (!stringMember(jwk, "crv", &crv) || crv != "P-256") {
    *error = "EC key must have \"crv\": \"P-256\" (ES256)";
    return nullptr;
  }
  std::string x;
  std::string y;
  if (!bytesMember(jwk, "x", &x, error) || !bytesMember(jwk, "y", &y, error)) {
    return nullptr;
  }
  if (x.size() != 32 || y.size() != 32) {
    *error = "P-256 \"x\" and \"y\" must be 32 bytes each";
    return nullptr;
  }
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    *error = "out of memory";
    return nullptr;
  }
  return fromParams("EC", bld.get(), error);
}

PkeyPtr rsaKey(const Json& jwk, std::string* error) {
  std::string n;
  std::string e;
  if (!bytesMember(jwk, "n", &n, error) || !bytesMember(jwk, "e", &e, error)) {
    return nullptr;
  }
  Owned<BIGNUM> n_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                               static_cast<int>(n.size()), nullptr));
  Owned<BIGNUM> e_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                               static_cast<int>(e.size()), nullptr));
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    *error = "out of memory";
    return nullptr;
  }
  if (static_cast<size_t>(BN_num_bits(n_bn.get())) < kMinRsaBits) {
    *error = "RSA modulus has " + std::to_string(BN_num_bits(n_bn.get())) +
             " bits; at least 2048 are required";
    return nullptr;
  }
  return fromParams("RSA", bld.get(), error);
}

PkeyPtr okpKey(const Json& jwk, std::string* error) {
  std::string crv;
  if (!stringMember(jwk, "crv", &crv) || crv != "Ed25519") {
    *error = "OKP key must have \"crv\": \"Ed25519\" (EdDSA)";
    return nullptr;
  }
  std::string x;
  if (!bytesMember(jwk, "x", &x, error)) {
    return nullptr;
  }
  if (x.size() != 32) {
    *error = "Ed25519 \"x\" must be 32 bytes";
    return nullptr;
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  if (!pkey) {
    *error = "not a valid Ed25519 public key";
  }
  return pkey;
}

// Fills *key from one JWK, pinning its algorithm. Returns false and sets *error (without
// the key's name, which the caller adds).
bool parseKey(const Json& jwk, Key* key, std::string* error) {
  std::string kty;
  std::string alg;
  std::string use;
  if (!stringMember(jwk, "kty", &kty) || kty.empty()) {
    *error = "missing \"kty\"";
    return false;
  }
  if (!stringMember(jwk, "alg", &alg)) {
    *error = "\"alg\" is not a string";
    return false;
  }
  if (!stringMember(jwk, "use", &use) || (!use.empty() && use != "sig")) {
    *error = "\"use\" must be \"sig\" when present";
    return false;
  }
  // The file holds verification keys; a private key here means a key leaked into it.
  if (kty != "oct" && jwk.contains("d")) {
    *error = "contains private key material (\"d\"); publish public keys only";
    return false;
  }

  // The algorithm a key type implies, and whether its JWK must name it.
  std::optional<Algorithm> pinned;
  if (kty == "EC") {
    pinned = Algorithm::kES256;
  } else if (kty == "OKP") {
    pinned = Algorithm::kEdDSA;
  } else if (kty == "oct") {
    pinned = Algorithm::kHS256;
  } else if (kty == "RSA") {
    // One RSA key could verify RS256 and PS256; it is pinned to the one its JWK names.
    if (alg.empty()) {
      *error = "RSA key needs \"alg\" (RS256 or PS256): its algorithm must be pinned";
      return false;
    }
    if (alg != "RS256" && alg != "PS256") {
      *error = "RSA key has \"alg\": \"" + alg + "\"; only RS256 and PS256 are supported";
      return false;
    }
    pinned = parseAlgorithm(alg);
  } else {
    *error = "unsupported \"kty\": \"" + kty + "\" (EC, RSA, OKP or oct)";
    return false;
  }
  if (!alg.empty() && parseAlgorithm(alg) != pinned) {
    *error = "\"alg\": \"" + alg + "\" does not fit a " + kty + " key (expected " +
             algorithmName(*pinned) + ")";
    return false;
  }
  key->alg = *pinned;

  switch (key->alg) {
    case Algorithm::kES256: key->pkey = ecKey(jwk, error); break;
    case Algorithm::kRS256:
    case Algorithm::kPS256: key->pkey = rsaKey(jwk, error); break;
    case Algorithm::kEdDSA: key->pkey = okpKey(jwk, error); break;
    case Algorithm::kHS256:
      if (!bytesMember(jwk, "k", &key->secret, error)) {
        return false;
      }
      if (key->secret.size() < kMinHmacKeyBytes) {
        *error = "oct key has " + std::to_string(key->secret.size() * 8) +
                 " bits; HS256 needs at least 256";
        return false;
      }
      return true;
  }
  return key->pkey != nullptr;
}

}  // namespace

std::optional<KeySet> KeySet::parse(std::string_view json, std::string* error) {
  try {
    Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      *error = "not valid JSON";
      return std::nullopt;
    }
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
      *error = "a JWKS must be an object with a \"keys\" array";
      return std::nullopt;
    }
    KeySet set;
    const Json& keys = doc["keys"];
    for (size_t i = 0; i < keys.size(); ++i) {
      const Json& jwk = keys[i];
      std::string name = "key " + std::to_string(i);
      if (!jwk.is_object()) {
        *error = name + ": not an object";
        return std::nullopt;
      }
      Key key;
      if (!stringMember(jwk, "kid", &key.kid) || key.kid.empty()) {
        *error = name + ": missing \"kid\" (tokens choose their key by kid)";
        return std::nullopt;
      }
      name += " (kid \"" + key.kid + "\")";
      std::string reason;
      if (!parseKey(jwk, &key, &reason)) {
        ERR_clear_error();
        *error = name + ": " + reason;
        return std::nullopt;
      }
      if (set.keys_.count(key.kid) != 0) {
        *error = name + ": duplicate kid";
        return std::nullopt;
      }
      std::string kid = key.kid;
      set.keys_.emplace(std::move(kid), std::move(key));
    }
    if (set.keys_.empty()) {
      *error = "the JWKS has no keys";
      return std::nullopt;
    }
    return set;
  } catch (const std::exception& e) {
    // nlohmann accessors are type-checked above; this is for allocation failures.
    *error = std::string("cannot load the JWKS: ") + e.what();
    return std::nullopt;
  }
}

std::optional<KeySet> KeySet::loadFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<KeySet> set = parse(text.str(), error);
  if (!set) {
    *error = path + ": " + *error;
  }
  return set;
}

const Key* KeySet::find(std::string_view kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace jwt
