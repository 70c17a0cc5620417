#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "common/jwt/key_set.h"
#include "test_keys.h"

using jwt::Algorithm;
using jwt::KeySet;
using namespace jwt_test;

namespace {
// Loads a JWKS of the given keys, expecting failure; returns the error.
std::string loadError(const std::string& keys_json) {
  std::string error;
  std::optional<KeySet> set = KeySet::parse(R"({"keys":[)" + keys_json + "]}", &error);
  CHECK_FALSE(set);
  return error;
}
}  // namespace

TEST_CASE("a JWKS loads each key type pinned to its algorithm") {
  std::string error;
  std::optional<KeySet> set = KeySet::parse(allKeys(), &error);
  REQUIRE(set);
  CHECK(error.empty());
  CHECK(set->size() == 4);
  CHECK(set->find("h1")->alg == Algorithm::kHS256);
  CHECK(set->find("h1")->secret == kSecret);
  CHECK(set->find("r1")->alg == Algorithm::kRS256);
  CHECK(set->find("e1")->alg == Algorithm::kES256);
  CHECK(set->find("d1")->alg == Algorithm::kEdDSA);
  CHECK(set->find("r1")->pkey != nullptr);
  CHECK(set->find("nope") == nullptr);

  set = KeySet::parse(R"({"keys":[)" + rsaJwk("p1", "PS256") + "]}", &error);
  REQUIRE(set);
  CHECK(set->find("p1")->alg == Algorithm::kPS256);
}

TEST_CASE("JWKS documents that are not a key list are refused") {
  std::string error;
  CHECK_FALSE(KeySet::parse("{", &error));
  CHECK(error == "not valid JSON");
  CHECK_FALSE(KeySet::parse("[]", &error));
  CHECK(error.find("\"keys\" array") != std::string::npos);
  CHECK_FALSE(KeySet::parse(R"({"keys":{}})", &error));
  CHECK_FALSE(KeySet::parse(R"({"keys":[]})", &error));
  CHECK(error == "the JWKS has no keys");
}

TEST_CASE("JWKS load errors name the key and what is wrong") {
  CHECK(loadError(octJwk("h1", kSecret) + ",42") == "key 1: not an object");
  CHECK(loadError(R"({"kty":"EC"})") == "key 0: missing \"kid\" (tokens choose their key by kid)");
  CHECK(loadError(R"({"kid":"x"})") == "key 0 (kid \"x\"): missing \"kty\"");
  CHECK(loadError(R"({"kid":"x","kty":"DSA"})") ==
        "key 0 (kid \"x\"): unsupported \"kty\": \"DSA\" (EC, RSA, OKP or oct)");
  CHECK(loadError(octJwk("h1", kSecret) + "," + rsaJwk("r1", "")) ==
        "key 1 (kid \"r1\"): RSA key needs \"alg\" (RS256 or PS256): its algorithm must be pinned");
  CHECK(loadError(rsaJwk("r1", "RS512")).find("only RS256 and PS256") != std::string::npos);
  CHECK(loadError(rsaJwk("r1", "ES256")).find("only RS256 and PS256") != std::string::npos);
  CHECK(loadError(R"({"kty":"oct","kid":"h","alg":"RS256","k":"AAAA"})") ==
        "key 0 (kid \"h\"): \"alg\": \"RS256\" does not fit a oct key (expected HS256)");
  CHECK(loadError(octJwk("h1", kSecret) + "," + octJwk("h1", kSecret)) ==
        "key 1 (kid \"h1\"): duplicate kid");
  CHECK(loadError(octJwk("h1", "short")) ==
        "key 0 (kid \"h1\"): oct key has 40 bits; HS256 needs at least 256");
  CHECK(loadError(R"({"kty":"oct","kid":"h1","use":"enc","k":"AAAA"})") ==
        "key 0 (kid \"h1\"): \"use\" must be \"sig\" when present");
}

TEST_CASE("JWKS key material is checked at load") {
  std::string ec = kEcJwk;
  auto withEc = [&](const std::string& from, const std::string& to) {
    std::string jwk = ec;
    jwk.replace(jwk.find(from), from.size(), to);
    return loadError(jwk);
  };
  CHECK(withEc("P-256", "P-384") ==
        "key 0 (kid \"e1\"): EC key must have \"crv\": \"P-256\" (ES256)");
  CHECK(withEc("\"x\":\"pfNg", "\"x\":\"") ==
        "key 0 (kid \"e1\"): P-256 \"x\" and \"y\" must be 32 bytes each");
  // A point off the curve: y changed in its last byte.
  CHECK(withEc("LVzlc", "LVzlQ") == "key 0 (kid \"e1\"): not a valid EC public key");
  CHECK(withEc("\"y\"", "\"yy\"") == "key 0 (kid \"e1\"): missing \"y\"");
  CHECK(withEc("\"x\":\"", "\"x\":\"*") == "key 0 (kid \"e1\"): \"x\" is not base64url");
  CHECK(withEc("\"kty\"", "\"d\":\"AAAA\",\"kty\"") ==
        "key 0 (kid \"e1\"): contains private key material (\"d\"); publish public keys only");

  std::string ed = kEdJwk;
  CHECK(loadError(ed.replace(ed.find("Ed25519"), 7, "Ed448")) ==
        "key 0 (kid \"d1\"): OKP key must have \"crv\": \"Ed25519\" (EdDSA)");

  std::string small_rsa = R"({"kty":"RSA","kid":"r","alg":"RS256","e":"AQAB","n":")" +
                          jwt::encodeBase64Url(std::string(128, '\xc1')) + "\"}";
  CHECK(loadError(small_rsa) ==
        "key 0 (kid \"r\"): RSA modulus has 1024 bits; at least 2048 are required");
}

TEST_CASE("a JWKS file loads, and a missing one is named in the error") {
  std::string error;
  CHECK_FALSE(KeySet::loadFile("/nonexistent/jwks.json", &error));
  CHECK(error.rfind("/nonexistent/jwks.json: cannot open", 0) == 0);

  char path[] = "/tmp/jwt_keyset_testXXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  { std::ofstream(path) << allKeys(); }
  std::optional<KeySet> set = KeySet::loadFile(path, &error);
  CHECK(set);
  { std::ofstream(path) << "{\"keys\": 1}"; }
  CHECK_FALSE(KeySet::loadFile(path, &error));
  CHECK(error.rfind(std::string(path) + ": a JWKS must be", 0) == 0);
  std::remove(path);
}
