#include "services/user/token_issuer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "common/jwt/base64url.h"

namespace user_service {

namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr size_t kP256Bytes = 32;  // a P-256 coordinate or scalar
constexpr size_t kJtiBytes = 16;

struct Deleters {
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(BIGNUM* bn) const { BN_free(bn); }
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
template <typename T>
using Owned = std::unique_ptr<T, Deleters>;

// Without a callback OpenSSL would prompt on the terminal for an encrypted key's passphrase.
int refusePassphrase(char*, int, int, void*) { return -1; }

// A big number as exactly `width` big-endian bytes (left-padded with zeros).
bool fixedWidth(const BIGNUM* bn, size_t width, std::string* out) {
  out->assign(width, '\0');
  return BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out->data()),
                      static_cast<int>(width)) == static_cast<int>(width);
}

bool coordinate(const EVP_PKEY* pkey, const char* name, std::string* out) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return false;
  }
  Owned<BIGNUM> bn(raw);
  std::string bytes;
  if (!fixedWidth(bn.get(), kP256Bytes, &bytes)) {
    return false;
  }
  *out = jwt::encodeBase64Url(bytes);
  return true;
}

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// RFC 7638: SHA-256 of the required members in lexicographic order, without whitespace. x and
// y are base64url text already, which needs no JSON escaping.
std::string thumbprint(const std::string& x, const std::string& y) {
  return jwt::encodeBase64Url(
      sha256(R"({"crv":"P-256","kty":"EC","x":")" + x + R"(","y":")" + y + R"("})"));
}

// JWS signing input -> the 64-byte r || s of RFC 7518 3.4. OpenSSL signs in DER, whose
// integers drop leading zeros: each is left-padded back to 32 bytes.
std::string signEs256(EVP_PKEY* pkey, std::string_view input) {
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  unsigned char der[80];  // at most 72 for P-256
  size_t der_length = sizeof der;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx.get(), der, &der_length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("ES256 signing failed");
  }
  const unsigned char* cursor = der;
  Owned<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)));
  std::string r;
  std::string s;
  if (!sig || !fixedWidth(ECDSA_SIG_get0_r(sig.get()), kP256Bytes, &r) ||
      !fixedWidth(ECDSA_SIG_get0_s(sig.get()), kP256Bytes, &s)) {
    throw std::runtime_error("ES256 signature is not a P-256 ECDSA-Sig-Value");
  }
  return r + s;
}

std::string randomBase64Url(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return jwt::encodeBase64Url(bytes);
}

// Compact JSON; invalid UTF-8 (a corrupted role name) becomes U+FFFD instead of throwing.
std::string dump(const OrderedJson& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool readFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

}  // namespace

TokenIssuer::TokenIssuer(std::vector<SigningKey> keys, TokenIssuerOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {}

std::optional<TokenIssuer> TokenIssuer::loadFiles(const std::vector<std::string>& pem_paths,
                                                  TokenIssuerOptions options,
                                                  std::string* error) {
  std::vector<std::string> pems;
  for (const std::string& path : pem_paths) {
    if (!readFile(path, &pems.emplace_back(), error)) {
      return std::nullopt;
    }
  }
  return build(pems, pem_paths, std::move(options), error);
}

std::optional<TokenIssuer> TokenIssuer::fromPem(const std::vector<std::string>& pems,
                                                TokenIssuerOptions options,
                                                std::string* error) {
  std::vector<std::string> names;
  for (size_t i = 0; i < pems.size(); ++i) {
    names.push_back("key " + std::to_string(i + 1));
  }
  return build(pems, names, std::move(options), error);
}

std::optional<TokenIssuer> TokenIssuer::build(const std::vector<std::string>& pems,
                                              const std::vector<std::string>& names,
                                              TokenIssuerOptions options, std::string* error) {
  if (options.issuer.empty() || options.audience.empty()) {
    *error = "token issuer: issuer and audience are required";
    return std::nullopt;
  }
  if (options.ttl_seconds <= 0) {
    *error = "token issuer: ttl must be positive";
    return std::nullopt;
  }
  if (pems.empty()) {
    *error = "token issuer: no signing key";
    return std::nullopt;
  }
  std::vector<SigningKey> keys;
  for (size_t i = 0; i < pems.size(); ++i) {
    auto fail = [&](const std::string& what) {
      *error = names[i] + ": " + what;
      // A stale entry in this thread's OpenSSL error queue would confuse a later
      // SSL_get_error() on the same thread.
      ERR_clear_error();
      return std::nullopt;
    };
    Owned<BIO> bio(BIO_new_mem_buf(pems[i].data(), static_cast<int>(pems[i].size())));
    if (!bio) {
      return fail("out of memory");
    }
    SigningKey key;
    key.pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassphrase, nullptr));
    if (!key.pkey) {
      return fail("not an unencrypted PEM private key");
    }
    char group[64] = {};
    if (!EVP_PKEY_is_a(key.pkey.get(), "EC") ||
        EVP_PKEY_get_utf8_string_param(key.pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, nullptr) != 1 ||
        std::string_view(group) != "prime256v1") {
      return fail("not an EC P-256 key (ES256)");
    }
    // The full check (pairwise included): a key file whose stored public point does not
    // match its private scalar would publish a key that verifies nothing.
    Owned<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    if (!check || EVP_PKEY_check(check.get()) != 1) {
      return fail("EC key fails its consistency check");
    }
    if (!coordinate(key.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, &key.x) ||
        !coordinate(key.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &key.y)) {
      return fail("cannot read the public point");
    }
    key.kid = thumbprint(key.x, key.y);
    for (const SigningKey& other : keys) {
      if (other.kid == key.kid) {
        return fail("the same key is listed twice");
      }
    }
    keys.push_back(std::move(key));
  }
  return TokenIssuer(std::move(keys), std::move(options));
}

std::string TokenIssuer::issue(std::string_view subject, const std::vector<std::string>& roles,
                               int64_t now_seconds) const {
  const SigningKey& key = keys_.front();
  OrderedJson header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", key.kid}};
  OrderedJson claims = {{"iss", options_.issuer},
                        {"sub", subject},
                        {"aud", options_.audience},
                        {"iat", now_seconds},
                        {"exp", now_seconds + options_.ttl_seconds},
                        {"jti", randomBase64Url(kJtiBytes)},
                        {"roles", roles}};
  std::string input = jwt::encodeBase64Url(dump(header)) + "." + jwt::encodeBase64Url(dump(claims));
  std::string signature = signEs256(key.pkey.get(), input);
  return input + "." + jwt::encodeBase64Url(signature);
}

std::string TokenIssuer::jwksJson() const {
  OrderedJson keys = OrderedJson::array();
  for (const SigningKey& key : keys_) {
    keys.push_back({{"kty", "EC"},
                    {"crv", "P-256"},
                    {"x", key.x},
                    {"y", key.y},
                    {"kid", key.kid},
                    {"alg", "ES256"},
                    {"use", "sig"}});
  }
  return dump(OrderedJson{{"keys", keys}}) + "\n";
}

bool TokenIssuer::writeJwksFile(const std::string& path, std::string* error) const {
  std::string json = jwksJson();
  // mkstemp's unique name lets instances write concurrently; rename is atomic in one folder.
  std::string temp = path + ".tmp.XXXXXX";
  int fd = mkstemp(temp.data());
  if (fd < 0) {
    *error = temp + ": " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const char* what) {
    *error = temp + ": " + what + ": " + std::strerror(errno);
    close(fd);
    unlink(temp.c_str());
    return false;
  };
  for (size_t written = 0; written < json.size();) {
    ssize_t n = write(fd, json.data() + written, json.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail("write");
    }
    written += static_cast<size_t>(n);
  }
  // mkstemp makes 0600; the balancer may run as another user.
  if (fchmod(fd, 0644) != 0) {
    return fail("chmod");
  }
  if (fsync(fd) != 0) {
    return fail("fsync");
  }
  if (close(fd) != 0) {
    *error = temp + ": close: " + std::strerror(errno);
    unlink(temp.c_str());
    return false;
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    *error = path + ": rename: " + std::strerror(errno);
    unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace user_service
