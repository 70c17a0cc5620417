#include "services/product/product_input.h"

#include <catch2/catch.hpp>

using nlohmann::json;
using product::InputMode;
using product::parseProductInput;

TEST_CASE("parseProductInput: a full create") {
  std::string error;
  auto in = parseProductInput(
      json{{"name", "Kopi"}, {"description", "arabica"}, {"price", 15000}, {"stock", 3}},
      InputMode::kCreate, &error);
  REQUIRE(in);
  CHECK(*in->name == "Kopi");
  CHECK(*in->description == "arabica");
  CHECK(*in->price == 15000);
  CHECK(*in->stock == 3);
}

TEST_CASE("parseProductInput: create needs name and price") {
  std::string error;
  CHECK_FALSE(parseProductInput(json{{"price", 1}}, InputMode::kCreate, &error));
  CHECK(error.find("name") != std::string::npos);
  CHECK_FALSE(parseProductInput(json{{"name", "x"}}, InputMode::kCreate, &error));
  CHECK(error.find("price") != std::string::npos);
  auto in = parseProductInput(json{{"name", "x"}, {"price", 0}}, InputMode::kCreate, &error);
  REQUIRE(in);
  CHECK_FALSE(in->description);
  CHECK_FALSE(in->stock);
}

TEST_CASE("parseProductInput: update takes any one field, not none") {
  std::string error;
  auto in = parseProductInput(json{{"stock", 9}, {"id", 4}}, InputMode::kUpdate, &error);
  REQUIRE(in);
  CHECK(*in->stock == 9);
  CHECK_FALSE(in->name);
  CHECK_FALSE(parseProductInput(json::object(), InputMode::kUpdate, &error));
  CHECK_FALSE(parseProductInput(json{{"other", 1}}, InputMode::kUpdate, &error));
}

TEST_CASE("parseProductInput: wrong values") {
  std::string error;
  std::string long_name(201, 'a');
  // 200 characters of two bytes each are fine: the limit counts characters.
  std::string long_utf8;
  for (int i = 0; i < 200; ++i) {
    long_utf8 += "\xC3\xA9";
  }
  CHECK(parseProductInput(json{{"name", long_utf8}}, InputMode::kUpdate, &error));
  for (const json& body :
       {json{{"name", ""}}, json{{"name", "   "}}, json{{"name", long_name}}, json{{"name", 5}},
        json{{"name", nullptr}}, json{{"name", std::string("a\0b", 3)}}, json{{"description", 1}},
        json{{"price", -1}}, json{{"price", "10"}}, json{{"price", 1.5}},
        json{{"price", 9007199254740992}}, json{{"price", UINT64_MAX}}, json{{"stock", -3}},
        json{{"stock", 2147483648LL}}, json{{"stock", true}}}) {
    CAPTURE(body.dump());
    CHECK_FALSE(parseProductInput(body, InputMode::kUpdate, &error));
    CHECK_FALSE(error.empty());
  }
}
