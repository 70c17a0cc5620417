#include "common/jwt/verifier.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "common/jwt/base64url.h"

namespace jwt {

const char* reasonName(Reason reason) {
  switch (reason) {
    case Reason::kOk: return "ok";
    case Reason::kMalformed: return "malformed";
    case Reason::kBadSignature: return "bad_signature";
    case Reason::kUnknownKid: return "unknown_kid";
    case Reason::kAlgMismatch: return "alg_mismatch";
    case Reason::kExpired: return "expired";
    case Reason::kNotYetValid: return "not_yet_valid";
    case Reason::kIssuedInFuture: return "issued_in_future";
    case Reason::kBadIssuer: return "bad_issuer";
    case Reason::kBadAudience: return "bad_audience";
    case Reason::kTooLarge: return "too_large";
  }
  return "unknown";
}

bool Claims::hasRole(std::string_view role) const {
  for (const std::string& r : roles) {
    if (r == role) {
      return true;
    }
  }
  return false;
}

std::optional<std::string_view> Claims::claim(std::string_view name) const {
  for (const auto& [claim_name, value] : text) {
    if (claim_name == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

namespace {

using Json = nlohmann::json;

constexpr size_t kSha256Bytes = 32;
constexpr size_t kP256ScalarBytes = 32;

bool verifyHmac(const Key& key, std::string_view input, std::string_view signature) {
  if (signature.size() != kSha256Bytes) {
    return false;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  if (HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &mac_length) == nullptr ||
      mac_length != kSha256Bytes) {
    return false;
  }
  // Constant time, so that timing does not reveal how many leading bytes matched.
  return CRYPTO_memcmp(mac, signature.data(), kSha256Bytes) == 0;
}

// Writes a DER INTEGER holding the unsigned big-endian number `bytes`; returns its length.
size_t derInteger(const unsigned char* bytes, size_t length, unsigned char* out) {
  while (length > 1 && bytes[0] == 0) {  // minimal encoding
    ++bytes;
    --length;
  }
  bool sign_pad = (bytes[0] & 0x80) != 0;  // keep the number positive
  size_t n = 0;
  out[n++] = 0x02;
  out[n++] = static_cast<unsigned char>(length + (sign_pad ? 1 : 0));
  if (sign_pad) {
    out[n++] = 0x00;
  }
  std::memcpy(out + n, bytes, length);
  return n + length;
}

// JOSE carries an ES256 signature as r || s, 32 bytes each (RFC 7518 3.4); OpenSSL wants
// the DER SEQUENCE { INTEGER r, INTEGER s }. At most 2 + 2 * 35 = 72 bytes, all short-form
// lengths. Returns 0 for a raw signature of the wrong length.
size_t es256ToDer(std::string_view raw, unsigned char (&der)[72]) {
  if (raw.size() != 2 * kP256ScalarBytes) {
    return 0;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  size_t n = 2;
  n += derInteger(bytes, kP256ScalarBytes, der + n);
  n += derInteger(bytes + kP256ScalarBytes, kP256ScalarBytes, der + n);
  der[0] = 0x30;
  der[1] = static_cast<unsigned char>(n - 2);
  return n;
}

bool verifyPublicKey(const Key& key, std::string_view input, std::string_view signature) {
  unsigned char der[72];
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  size_t sig_length = signature.size();
  if (key.alg == Algorithm::kES256) {
    sig_length = es256ToDer(signature, der);
    if (sig_length == 0) {
      return false;
    }
    sig = der;
  } else if ((key.alg == Algorithm::kRS256 || key.alg == Algorithm::kPS256) &&
             sig_length != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
    return false;  // RFC 7518 3.3: exactly the modulus length
  }

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    return false;
  }
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
  // EdDSA hashes internally: no digest is given.
  const EVP_MD* md = key.alg == Algorithm::kEdDSA ? nullptr : EVP_sha256();
  bool ok = EVP_DigestVerifyInit(ctx, &pkey_ctx, md, nullptr, key.pkey.get()) == 1;
  if (ok && key.alg == Algorithm::kPS256) {
    // RFC 7518 3.5: MGF1 with SHA-256 (OpenSSL's default: the signature digest), salt as
    // long as the hash.
    ok = EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  ok = ok &&
       EVP_DigestVerify(ctx, sig, sig_length, reinterpret_cast<const unsigned char*>(input.data()),
                        input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// Reads a NumericDate claim (seconds, possibly fractional), rounded towards the strict side
// by the caller's choice and clamped so that adding a leeway cannot overflow. Returns
// nullopt when the value is not a number.
std::optional<int64_t> numericDate(const Json& value, bool round_up) {
  constexpr int64_t kLimit = int64_t{1} << 60;
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    return v > static_cast<uint64_t>(kLimit) ? kLimit : static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    return std::clamp(v, -kLimit, kLimit);
  }
  if (value.is_number_float()) {
    double v = round_up ? std::ceil(value.get<double>()) : std::floor(value.get<double>());
    v = std::clamp(v, -static_cast<double>(kLimit), static_cast<double>(kLimit));
    return static_cast<int64_t>(v);
  }
  return std::nullopt;
}

bool hasControlCharacter(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return true;
    }
  }
  return false;
}

std::string joinStrings(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) {
      joined += ',';
    }
    joined += part;
  }
  return joined;
}

// The header-ready text of a claim (see Claims::claim).
std::string claimText(const Json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_boolean()) {
    return value.get<bool>() ? "true" : "false";
  }
  if (value.is_array()) {
    std::vector<std::string> parts;
    for (const Json& item : value) {
      if (!item.is_string()) {
        parts.clear();
        break;
      }
      parts.push_back(item.get<std::string>());
    }
    if (parts.size() == value.size()) {
      return joinStrings(parts);
    }
  }
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Splits "a b,c" into roles; empty pieces are dropped.
void splitRoles(const std::string& text, std::vector<std::string>* roles) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(" ,", start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (end > start) {
      roles->push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
}

}  // namespace

Verifier::Verifier(std::shared_ptr<const KeySet> keys, Options options)
    : keys_(std::move(keys)), options_(std::move(options)) {}

Result Verifier::verify(std::string_view token, int64_t now_seconds) const {
  Result result;
  result.reason = Reason::kMalformed;
  try {
    if (token.size() > options_.max_token_bytes) {
      result.reason = Reason::kTooLarge;
      return result;
    }
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      return result;  // not three segments
    }
    std::string header;
    std::string payload;
    std::string signature;
    if (!decodeBase64Url(token.substr(0, dot1), &header) ||
        !decodeBase64Url(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload) ||
        !decodeBase64Url(token.substr(dot2 + 1), &signature)) {
      return result;
    }

    Json head = Json::parse(header, nullptr, /*allow_exceptions=*/false);
    if (!head.is_object()) {
      return result;  // also a parse failure (discarded)
    }
    auto alg_it = head.find("alg");
    auto kid_it = head.find("kid");
    if (alg_it == head.end() || !alg_it->is_string() ||
        (kid_it != head.end() && !kid_it->is_string())) {
      return result;
    }
    // RFC 7515 4.1.11: extensions marked critical must be understood, and none are here.
    if (head.contains("crit")) {
      return result;
    }
    std::optional<Algorithm> alg = parseAlgorithm(alg_it->get_ref<const std::string&>());
    if (!alg) {
      result.reason = Reason::kAlgMismatch;  // "none" or an algorithm no key can have
      return result;
    }
    const Key* key =
        kid_it == head.end() ? nullptr : keys_->find(kid_it->get_ref<const std::string&>());
    if (key == nullptr) {
      result.reason = Reason::kUnknownKid;
      return result;
    }
    // The pin: the key decides the algorithm, never the token. This is what stops an
    // HS256 token "signed" with an RSA key's public bytes.
    if (key->alg != *alg) {
      result.reason = Reason::kAlgMismatch;
      return result;
    }

    std::string_view signing_input = token.substr(0, dot2);
    bool signature_ok = key->alg == Algorithm::kHS256
                            ? verifyHmac(*key, signing_input, signature)
                            : verifyPublicKey(*key, signing_input, signature);
    if (!signature_ok) {
      ERR_clear_error();  // OpenSSL's per-thread error queue would otherwise grow
      result.reason = Reason::kBadSignature;
      return result;
    }

    result.reason = checkClaims(payload, now_seconds, &result.claims);
    result.ok = result.reason == Reason::kOk;
    if (!result.ok) {
      result.claims = Claims();
    }
    return result;
  } catch (const std::exception&) {
    // Type checks above keep nlohmann from throwing; this is for allocation failures.
    result = Result();
    return result;
  }
}

Reason Verifier::checkClaims(std::string_view payload_json, int64_t now, Claims* claims) const {
  Json payload = Json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) {
    return Reason::kMalformed;
  }

  if (!options_.issuer.empty()) {
    auto iss = payload.find("iss");
    if (iss == payload.end() || !iss->is_string() || *iss != options_.issuer) {
      return Reason::kBadIssuer;
    }
  }
  if (!options_.audience.empty()) {
    auto aud = payload.find("aud");
    bool found = false;
    if (aud != payload.end() && aud->is_string()) {
      found = *aud == options_.audience;
    } else if (aud != payload.end() && aud->is_array()) {
      for (const Json& item : *aud) {
        found = found || (item.is_string() && item == options_.audience);
      }
    }
    if (!found) {
      return Reason::kBadAudience;
    }
  }

  // exp is required: a token that never expires cannot be revoked by waiting.
  const int64_t leeway = options_.leeway_seconds;
  auto exp_it = payload.find("exp");
  std::optional<int64_t> exp;
  if (exp_it == payload.end() || !(exp = numericDate(*exp_it, false))) {
    return Reason::kMalformed;
  }
  if (now >= *exp + leeway) {
    return Reason::kExpired;
  }
  if (auto nbf_it = payload.find("nbf"); nbf_it != payload.end()) {
    std::optional<int64_t> nbf = numericDate(*nbf_it, true);
    if (!nbf) {
      return Reason::kMalformed;
    }
    if (now + leeway < *nbf) {
      return Reason::kNotYetValid;
    }
  }
  if (auto iat_it = payload.find("iat"); iat_it != payload.end()) {
    std::optional<int64_t> iat = numericDate(*iat_it, true);
    if (!iat) {
      return Reason::kMalformed;
    }
    if (*iat > now + leeway) {
      return Reason::kIssuedInFuture;
    }
  }

  claims->exp = *exp;
  if (auto sub = payload.find("sub"); sub != payload.end()) {
    if (!sub->is_string()) {
      return Reason::kMalformed;
    }
    claims->sub = sub->get<std::string>();
  }
  if (auto roles = payload.find("roles"); roles != payload.end()) {
    if (roles->is_string()) {
      splitRoles(roles->get_ref<const std::string&>(), &claims->roles);
    } else if (roles->is_array()) {
      for (const Json& role : *roles) {
        if (!role.is_string()) {
          return Reason::kMalformed;
        }
        claims->roles.push_back(role.get<std::string>());
      }
    } else {
      return Reason::kMalformed;
    }
  }

  auto keep = [&](const std::string& name, const Json& value) {
    std::string text = name == "roles" ? joinStrings(claims->roles) : claimText(value);
    if (!hasControlCharacter(text)) {
      claims->text.emplace_back(name, std::move(text));
    }
  };
  if (options_.kept_claims.empty()) {
    for (const auto& item : payload.items()) {
      keep(item.key(), item.value());
    }
  } else {
    for (const std::string& name : options_.kept_claims) {
      if (auto it = payload.find(name); it != payload.end()) {
        keep(name, *it);
      }
    }
  }
  return Reason::kOk;
}

}  // namespace jwt
