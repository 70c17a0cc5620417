#include "services/product/list_query.h"

#include <catch2/catch.hpp>

#include "services/kit/key_hash.h"

using product::ListQuery;
using product::parseListQuery;

TEST_CASE("parseListQuery: defaults when nothing is given") {
  std::string error;
  auto q = parseListQuery("", &error);
  REQUIRE(q);
  CHECK(q->limit == 20);
  CHECK(q->offset == 0);
  CHECK(q->q.empty());
}

TEST_CASE("parseListQuery: values, decoding, first of repeated, unknown ignored") {
  std::string error;
  auto q = parseListQuery("limit=100&offset=40&q=kopi+susu%20%25&limit=5&sort=x", &error);
  REQUIRE(q);
  CHECK(q->limit == 100);
  CHECK(q->offset == 40);
  CHECK(q->q == "kopi susu %");
}

TEST_CASE("parseListQuery: bad values name their parameter") {
  std::string error;
  for (const char* text : {"limit=0", "limit=101", "limit=-1", "limit=abc", "limit=", "limit=1.5",
                           "limit=99999999999999999999"}) {
    CAPTURE(text);
    CHECK_FALSE(parseListQuery(text, &error));
    CHECK(error.rfind("limit", 0) == 0);
  }
  for (const char* text : {"offset=-1", "offset=x", "offset="}) {
    CAPTURE(text);
    CHECK_FALSE(parseListQuery(text, &error));
    CHECK(error.rfind("offset", 0) == 0);
  }
  for (const char* text : {"q=%zz", "q=%4", "q=%00", "q=%ff", "q=%c3%28", "q=%ed%a0%80"}) {
    CAPTURE(text);
    CHECK_FALSE(parseListQuery(text, &error));
    CHECK(error.rfind("q", 0) == 0);
  }
}

TEST_CASE("parseListQuery: UTF-8 in q") {
  std::string error;
  auto q = parseListQuery("q=caf%C3%A9", &error);
  REQUIRE(q);
  CHECK(q->q == "caf\xC3\xA9");
}

TEST_CASE("containsPattern escapes LIKE's metacharacters") {
  CHECK(product::containsPattern("") == "%%");
  CHECK(product::containsPattern("kopi") == "%kopi%");
  CHECK(product::containsPattern("50%_off\\") == "%50\\%\\_off\\\\%");
}

TEST_CASE("listCacheKey: version, page and a hash of q folded to lower case") {
  ListQuery q;
  q.limit = 10;
  q.offset = 30;
  q.q = "Kopi";
  CHECK(product::listCacheKey("7", q) == "products:list:7:10:30:" + kit::keyHash("kopi"));
  ListQuery lower = q;
  lower.q = "kopi";
  CHECK(product::listCacheKey("7", q) == product::listCacheKey("7", lower));
  q.q.clear();
  CHECK(product::listCacheKey("7", q) == "products:list:7:10:30:" + kit::keyHash(""));
  // The key's size does not depend on q's.
  std::string longest(ListQuery::kMaxQBytes, 'x');
  lower.q = longest;
  CHECK(product::listCacheKey("7", lower).size() == product::listCacheKey("7", q).size());
  CHECK(kit::keyHash("kopi").size() == 32);
  CHECK(kit::keyHash("kopi") != kit::keyHash("kopj"));
}

TEST_CASE("parseListQuery: q is at most kMaxQBytes bytes once decoded") {
  std::string error;
  std::string at_most = "q=" + std::string(ListQuery::kMaxQBytes, 'a');
  CHECK(parseListQuery(at_most, &error));
  CHECK_FALSE(parseListQuery(at_most + "a", &error));
  CHECK(error == "q must be at most 256 bytes");
  // Counted decoded: %C3%A9 is two bytes.
  std::string encoded = "q=";
  for (size_t i = 0; i < ListQuery::kMaxQBytes / 2; ++i) {
    encoded += "%C3%A9";
  }
  CHECK(parseListQuery(encoded, &error));
  CHECK_FALSE(parseListQuery(encoded + "a", &error));
}
