// jwt_vectors JWKS CASES: checks tokens minted by mint.mjs (npm jose) against common/jwt.
// Prints one line per case and exits 1 on any mismatch (or 2 when the inputs cannot be read).

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/jwt/token_cache.h"
#include "common/jwt/verifier.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s JWKS_FILE CASES_FILE\n", argv[0]);
    return 2;
  }
  std::string error;
  std::optional<jwt::KeySet> keys = jwt::KeySet::loadFile(argv[1], &error);
  if (!keys) {
    std::fprintf(stderr, "cannot load the JWKS: %s\n", error.c_str());
    return 2;
  }
  std::ifstream in(argv[2]);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (!doc.is_object() || !doc.contains("cases")) {
    std::fprintf(stderr, "%s: not a cases file\n", argv[2]);
    return 2;
  }

  jwt::Options options;
  options.issuer = doc.value("issuer", "");
  options.audience = doc.value("audience", "");
  options.leeway_seconds = doc.value("leeway", 0);
  const int64_t now = doc.value("now", int64_t{0});
  jwt::Verifier verifier(std::make_shared<const jwt::KeySet>(std::move(*keys)), options);
  jwt::TokenCache cache(64);

  int failures = 0;
  int count = 0;
  for (const nlohmann::json& test : doc["cases"]) {
    const std::string name = test.value("name", "?");
    const std::string token = test.value("token", "");
    const std::string expect = test.value("expect", "?");
    jwt::Result result = verifier.verify(token, now);
    std::string got = jwt::reasonName(result.reason);
    std::string note;
    if (result.ok && result.claims.sub != "user-1") {
      note = " (sub is \"" + result.claims.sub + "\", expected \"user-1\")";
    } else if (result.ok && !result.claims.hasRole("customer")) {
      note = " (role \"customer\" missing)";
    }
    // The cached path must agree, twice (a miss, then a hit for accepted tokens).
    for (int round = 0; round < 2 && note.empty(); ++round) {
      jwt::Reason cached = jwt::Reason::kMalformed;
      const jwt::Claims* claims = cache.verify(verifier, token, now, &cached);
      if (cached != result.reason || (claims != nullptr) != result.ok) {
        note = std::string(" (through the cache: ") + jwt::reasonName(cached) + ")";
      }
    }
    bool pass = got == expect && note.empty();
    failures += pass ? 0 : 1;
    ++count;
    std::printf("%s %-32s expected %-16s got %s%s\n", pass ? "PASS" : "FAIL", name.c_str(),
                expect.c_str(), got.c_str(), note.c_str());
  }
  std::printf("%d cases, %d failed\n", count, failures);
  return failures == 0 && count > 0 ? 0 : 1;
}
