#include <catch2/catch.hpp>

#include "common/jwt/base64url.h"

using jwt::decodeBase64Url;
using jwt::encodeBase64Url;

TEST_CASE("base64url encodes and decodes RFC 4648's vectors without padding") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CHECK(encodeBase64Url(plain) == encoded);
    std::string out;
    REQUIRE(decodeBase64Url(encoded, &out));
    CHECK(out == plain);
  }
}

TEST_CASE("base64url uses - and _ and round-trips every byte") {
  CHECK(encodeBase64Url("\xfb\xff") == "-_8");
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  std::string out;
  REQUIRE(decodeBase64Url(encodeBase64Url(all), &out));
  CHECK(out == all);
}

TEST_CASE("base64url refuses other alphabets, padding, whitespace and non-canonical ends") {
  std::string out;
  CHECK_FALSE(decodeBase64Url("+/8", &out));      // standard base64's alphabet
  CHECK_FALSE(decodeBase64Url("Zg==", &out));     // padding
  CHECK_FALSE(decodeBase64Url("Zm9v Yg", &out));  // whitespace
  CHECK_FALSE(decodeBase64Url("Zm9vY", &out));    // a lone 6-bit character
  CHECK_FALSE(decodeBase64Url("Zh", &out));       // "f" with non-zero unused bits
  CHECK_FALSE(decodeBase64Url(std::string_view("Zg\0", 3), &out));
  CHECK_FALSE(decodeBase64Url("Zm9v\xc3\xa9", &out));
}
