#include "common/http/structured_field.h"

#include <catch2/catch.hpp>

using http::parseSfDictionary;
using http::SfItem;

TEST_CASE("sf dictionary: members, values and their types", "[http]") {
  auto d = parseSfDictionary(
      "max-age=3600, foo, private=\"set-cookie, x\", t=tok/x:1, n=-5, d=1.25, b=?0, "
      "bs=:aGk=:, l=(1 \"a\");p, k;x=1");
  REQUIRE(d);
  REQUIRE(d->size() == 10);
  CHECK((*d)[0].key == "max-age");
  CHECK((*d)[0].value.type == SfItem::Type::kInteger);
  CHECK((*d)[0].value.integer == 3600);
  CHECK((*d)[1].key == "foo");
  CHECK((*d)[1].value.type == SfItem::Type::kBoolean);
  CHECK((*d)[1].value.boolean);
  CHECK((*d)[2].value.type == SfItem::Type::kString);
  CHECK((*d)[2].value.text == "set-cookie, x");
  CHECK((*d)[3].value.type == SfItem::Type::kToken);
  CHECK((*d)[3].value.text == "tok/x:1");
  CHECK((*d)[4].value.integer == -5);
  CHECK((*d)[5].value.type == SfItem::Type::kDecimal);
  CHECK((*d)[6].value.type == SfItem::Type::kBoolean);
  CHECK_FALSE((*d)[6].value.boolean);
  CHECK((*d)[7].value.type == SfItem::Type::kByteSequence);
  CHECK((*d)[8].value.type == SfItem::Type::kInnerList);
  CHECK((*d)[9].key == "k");
  CHECK((*d)[9].value.boolean);
}

TEST_CASE("sf dictionary: a later duplicate replaces the earlier value", "[http]") {
  auto d = parseSfDictionary("a=1, b=2, a=3");
  REQUIRE(d);
  REQUIRE(d->size() == 2);
  CHECK((*d)[0].key == "a");
  CHECK((*d)[0].value.integer == 3);
}

TEST_CASE("sf dictionary: what is not one", "[http]") {
  for (const char* bad :
       {"max-age=10000, &&&&&", "Max-Age=1", "max-age =100", "max-age= 100", "a=1,", "a=1,,b",
        "a=\"open", "a=1.", "a=1.2345", "a=1234567890123456", "a=?2", "a=:abc", "a=(1 2",
        "a;=1", "a=1 b=2", "a=\"\\x\"", "a=\"\x7f\""}) {
    INFO(bad);
    CHECK_FALSE(parseSfDictionary(bad));
  }
  auto empty = parseSfDictionary("");
  REQUIRE(empty);
  CHECK(empty->empty());
  CHECK(parseSfDictionary("  a=1 ,\tb  "));  // leading SP, OWS around commas
}

TEST_CASE("sf dictionary: at most kSfMaxMembers distinct members", "[http]") {
  auto many = [](size_t n) {
    std::string value;
    for (size_t i = 0; i < n; ++i) {
      value += (i ? ", k" : "k") + std::to_string(i) + "=1";
    }
    return value;
  };
  auto ok = http::parseSfDictionary(many(http::kSfMaxMembers));
  REQUIRE(ok);
  CHECK(ok->size() == http::kSfMaxMembers);
  CHECK_FALSE(http::parseSfDictionary(many(http::kSfMaxMembers + 1)));
  CHECK_FALSE(http::parseSfDictionary(many(5000)));  // rejected at the 65th, not compared on
}
