#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/jwt/base64url.h"
#include "common/jwt/verifier.h"
#include "services/user/token_issuer.h"
#include "test_keys.h"

using jwt::Reason;
using nlohmann::json;
using user_service::TokenIssuer;
using user_service::TokenIssuerOptions;
using namespace user_test;

namespace {

constexpr int64_t kNow = 1'800'000'000;

TokenIssuerOptions options() {
  TokenIssuerOptions options;
  options.issuer = "https://users.local";
  options.audience = "shop";
  options.ttl_seconds = 900;
  return options;
}

TokenIssuer issuerFrom(const std::vector<std::string>& pems) {
  std::string error;
  std::optional<TokenIssuer> issuer = TokenIssuer::fromPem(pems, options(), &error);
  INFO(error);
  REQUIRE(issuer);
  return std::move(*issuer);
}

// The balancer's side: a Verifier over the JWKS the issuer publishes.
jwt::Verifier verifierFor(const std::string& jwks) {
  std::string error;
  std::optional<jwt::KeySet> keys = jwt::KeySet::parse(jwks, &error);
  INFO(error);
  REQUIRE(keys);
  jwt::Options verifier_options;
  verifier_options.issuer = "https://users.local";
  verifier_options.audience = "shop";
  return jwt::Verifier(std::make_shared<const jwt::KeySet>(std::move(*keys)), verifier_options);
}

std::vector<std::string> segments(const std::string& token) {
  std::vector<std::string> parts;
  std::stringstream in(token);
  for (std::string part; std::getline(in, part, '.');) {
    parts.push_back(part);
  }
  return parts;
}

json decodeJson(const std::string& segment) {
  std::string text;
  REQUIRE(jwt::decodeBase64Url(segment, &text));
  return json::parse(text);
}

// A private temporary folder, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string name = (std::filesystem::temp_directory_path() / "user_unit_XXXXXX").string();
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("an issued token passes the balancer's verifier with its claims") {
  TokenIssuer issuer = issuerFrom({newEcPem()});
  jwt::Verifier verifier = verifierFor(issuer.jwksJson());

  std::string token = issuer.issue("42", {"admin", "courier"}, kNow);
  jwt::Result result = verifier.verify(token, kNow);
  REQUIRE(result.ok);
  CHECK(result.claims.sub == "42");
  CHECK(result.claims.roles == std::vector<std::string>{"admin", "courier"});
  CHECK(result.claims.exp == kNow + 900);
  CHECK(result.claims.claim("iss") == "https://users.local");
  CHECK(result.claims.claim("aud") == "shop");
  CHECK(result.claims.claim("iat") == std::to_string(kNow));

  // Header and payload as the contract has them.
  std::vector<std::string> parts = segments(token);
  REQUIRE(parts.size() == 3);
  json header = decodeJson(parts[0]);
  CHECK(header == json{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", issuer.signingKid()}});
  json payload = decodeJson(parts[1]);
  CHECK(payload["sub"] == "42");
  CHECK(payload["roles"] == json::array({"admin", "courier"}));
  CHECK(payload["iat"] == kNow);
  CHECK(payload["exp"] == kNow + 900);
  REQUIRE(payload["jti"].is_string());
  std::string jti;
  REQUIRE(jwt::decodeBase64Url(payload["jti"].get<std::string>(), &jti));
  CHECK(jti.size() == 16);

  // Valid until exp, not after.
  CHECK(verifier.verify(token, kNow + 899).ok);
  CHECK(verifier.verify(token, kNow + 900).reason == Reason::kExpired);
}

TEST_CASE("roles may be empty; every token has its own jti") {
  TokenIssuer issuer = issuerFrom({newEcPem()});
  jwt::Verifier verifier = verifierFor(issuer.jwksJson());
  std::string a = issuer.issue("7", {}, kNow);
  std::string b = issuer.issue("7", {}, kNow);
  CHECK(a != b);
  CHECK(decodeJson(segments(a)[1])["roles"] == json::array());
  jwt::Result result = verifier.verify(a, kNow);
  REQUIRE(result.ok);
  CHECK(result.claims.roles.empty());
  CHECK(decodeJson(segments(a)[1])["jti"] != decodeJson(segments(b)[1])["jti"]);
}

TEST_CASE("signatures are raw r||s of 64 bytes, also when r or s has leading zeros") {
  // About 1 signature in 128 has r or s below 2^248, which DER shortens: 1000 tokens make
  // it near certain that the padding back to 32 bytes is exercised.
  TokenIssuer issuer = issuerFrom({newEcPem()});
  jwt::Verifier verifier = verifierFor(issuer.jwksJson());
  for (int i = 0; i < 1000; ++i) {
    std::string token = issuer.issue(std::to_string(i), {"user"}, kNow);
    std::string signature;
    REQUIRE(jwt::decodeBase64Url(segments(token)[2], &signature));
    REQUIRE(signature.size() == 64);
    REQUIRE(verifier.verify(token, kNow).ok);
  }
}

TEST_CASE("kid is the RFC 7638 thumbprint") {
  TokenIssuer issuer = issuerFrom({kRfc7517Pem});
  CHECK(issuer.signingKid() == kRfc7517Thumbprint);
  json jwks = json::parse(issuer.jwksJson());
  REQUIRE(jwks["keys"].size() == 1);
  CHECK(jwks["keys"][0] == json{{"kty", "EC"},
                                {"crv", "P-256"},
                                {"x", kRfc7517X},
                                {"y", kRfc7517Y},
                                {"kid", kRfc7517Thumbprint},
                                {"alg", "ES256"},
                                {"use", "sig"}});
  CHECK(verifierFor(issuer.jwksJson()).verify(issuer.issue("1", {}, kNow), kNow).ok);
}

TEST_CASE("the kid depends on the key, not on its file format") {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  REQUIRE(pkey != nullptr);
  EVP_PKEY_up_ref(pkey);
  std::string pkcs8 = toPem(pkey);
  std::string sec1 = toPem(pkey, /*traditional=*/true);
  REQUIRE(sec1.find("BEGIN EC PRIVATE KEY") != std::string::npos);
  CHECK(issuerFrom({pkcs8}).signingKid() == issuerFrom({sec1}).signingKid());
}

TEST_CASE("a tampered token is refused") {
  TokenIssuer issuer = issuerFrom({newEcPem()});
  jwt::Verifier verifier = verifierFor(issuer.jwksJson());
  std::string token = issuer.issue("42", {"user"}, kNow);
  std::vector<std::string> parts = segments(token);

  SECTION("a flipped bit in the signature") {
    std::string signature;
    REQUIRE(jwt::decodeBase64Url(parts[2], &signature));
    for (size_t at : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
      std::string altered = signature;
      altered[at] = static_cast<char>(altered[at] ^ 0x01);
      std::string forged = parts[0] + "." + parts[1] + "." + jwt::encodeBase64Url(altered);
      CHECK(verifier.verify(forged, kNow).reason == Reason::kBadSignature);
    }
  }
  SECTION("the payload changed: another user, more roles") {
    json payload = decodeJson(parts[1]);
    payload["sub"] = "1";
    payload["roles"] = {"admin"};
    std::string forged = parts[0] + "." + jwt::encodeBase64Url(payload.dump()) + "." + parts[2];
    CHECK(verifier.verify(forged, kNow).reason == Reason::kBadSignature);
  }
  SECTION("signed by a key that is not published") {
    TokenIssuer stranger = issuerFrom({newEcPem()});
    CHECK(verifier.verify(stranger.issue("42", {"user"}, kNow), kNow).reason ==
          Reason::kUnknownKid);
  }
}

TEST_CASE("with two keys, both are published and the first signs") {
  std::string first = newEcPem();
  std::string second = newEcPem();
  TokenIssuer issuer = issuerFrom({first, second});
  TokenIssuer first_only = issuerFrom({first});
  TokenIssuer second_only = issuerFrom({second});
  CHECK(issuer.signingKid() == first_only.signingKid());

  json jwks = json::parse(issuer.jwksJson());
  REQUIRE(jwks["keys"].size() == 2);
  CHECK(jwks["keys"][0]["kid"] == first_only.signingKid());
  CHECK(jwks["keys"][1]["kid"] == second_only.signingKid());
  CHECK(jwks["keys"][0] == json::parse(first_only.jwksJson())["keys"][0]);
  CHECK(jwks["keys"][1] == json::parse(second_only.jwksJson())["keys"][0]);

  std::string token = issuer.issue("42", {}, kNow);
  CHECK(decodeJson(segments(token)[0])["kid"] == first_only.signingKid());
  CHECK(verifierFor(first_only.jwksJson()).verify(token, kNow).ok);
  CHECK(verifierFor(second_only.jwksJson()).verify(token, kNow).reason == Reason::kUnknownKid);

  // Rotation: the new key signs, tokens of the old one still verify against the set.
  jwt::Verifier rotated = verifierFor(issuerFrom({second, first}).jwksJson());
  CHECK(rotated.verify(token, kNow).ok);
  CHECK(rotated.verify(second_only.issue("42", {}, kNow), kNow).ok);
}

TEST_CASE("keys and options that cannot sign ES256 are refused at load") {
  std::string error;
  auto refused = [&](const std::vector<std::string>& pems, TokenIssuerOptions opts) {
    error.clear();
    bool loaded = TokenIssuer::fromPem(pems, std::move(opts), &error).has_value();
    INFO(error);
    CHECK_FALSE(loaded);
    CHECK_FALSE(error.empty());
  };
  refused({}, options());
  refused({"not a key"}, options());
  refused({newEcPem("P-384")}, options());
  CHECK(error == "key 1: not an EC P-256 key (ES256)");
  refused({newEcPem(), newRsaPem()}, options());
  CHECK(error == "key 2: not an EC P-256 key (ES256)");
  refused({kMismatchedPem}, options());
  CHECK(error == "key 1: EC key fails its consistency check");
  refused({kRfc7517Pem, kRfc7517Pem}, options());
  CHECK(error == "key 2: the same key is listed twice");

  // A public key alone cannot sign.
  std::string public_pem = "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMKBCTNIcKUSDii11ySs3526iDZ8A\n"
      "iTo7Tu6KPAqv7D7gS2XpJFbZiItSs3m9+9Ue6GnvHw/GW2ZZaVtszggXIw==\n"
      "-----END PUBLIC KEY-----\n";
  refused({public_pem}, options());

  TokenIssuerOptions no_issuer = options();
  no_issuer.issuer.clear();
  refused({kRfc7517Pem}, no_issuer);
  TokenIssuerOptions no_audience = options();
  no_audience.audience.clear();
  refused({kRfc7517Pem}, no_audience);
  TokenIssuerOptions no_ttl = options();
  no_ttl.ttl_seconds = 0;
  refused({kRfc7517Pem}, no_ttl);
}

TEST_CASE("an encrypted key is refused without prompting for a passphrase") {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  REQUIRE(pkey != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                        const_cast<char*>("secret")) == 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(pkey);

  std::string error;
  CHECK_FALSE(TokenIssuer::fromPem({pem}, options(), &error));
  CHECK(error == "key 1: not an unencrypted PEM private key");
}

TEST_CASE("loadFiles reads PEM files and names the file in errors") {
  TempDir dir;
  std::string first_pem = newEcPem();
  std::string first = write(dir.path / "a.pem", first_pem);
  std::string second = write(dir.path / "b.pem", kRfc7517Pem);
  std::string error;
  std::optional<TokenIssuer> issuer = TokenIssuer::loadFiles({first, second}, options(), &error);
  INFO(error);
  REQUIRE(issuer);
  CHECK(issuer->signingKid() == issuerFrom({first_pem}).signingKid());
  CHECK(json::parse(issuer->jwksJson())["keys"][1]["kid"] == kRfc7517Thumbprint);

  std::string missing = (dir.path / "missing.pem").string();
  CHECK_FALSE(TokenIssuer::loadFiles({first, missing}, options(), &error));
  CHECK(error.rfind(missing + ": ", 0) == 0);

  std::string bad = write(dir.path / "bad.pem", "garbage");
  CHECK_FALSE(TokenIssuer::loadFiles({first, bad}, options(), &error));
  CHECK(error == bad + ": not an unencrypted PEM private key");
}

TEST_CASE("writeJwksFile replaces the file whole, readable by the balancer's KeySet") {
  TempDir dir;
  std::string path = (dir.path / "jwks.json").string();
  TokenIssuer issuer = issuerFrom({newEcPem(), kRfc7517Pem});
  std::string error;
  write(path, "old contents");
  REQUIRE(issuer.writeJwksFile(path, &error));

  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == issuer.jwksJson());
  std::optional<jwt::KeySet> keys = jwt::KeySet::loadFile(path, &error);
  INFO(error);
  REQUIRE(keys);
  CHECK(keys->size() == 2);
  CHECK(keys->find(issuer.signingKid()) != nullptr);
  CHECK(keys->find(kRfc7517Thumbprint) != nullptr);

  struct stat info {};
  REQUIRE(stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0644);  // public keys: the balancer may be another user

  // No temporary file is left behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path)) {
    ++files;
  }
  CHECK(files == 1);

  // An unwritable place fails with a message, and leaves nothing.
  CHECK_FALSE(issuer.writeJwksFile((dir.path / "no" / "such" / "jwks.json").string(), &error));
  CHECK(error.find("no/such/jwks.json.tmp.") != std::string::npos);
}
