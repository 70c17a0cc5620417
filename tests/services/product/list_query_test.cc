#include "services/product/list_query.h"

#include <catch2/catch.hpp>

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

TEST_CASE("listCacheKey: version, page and q folded to lower case") {
  ListQuery q;
  q.limit = 10;
  q.offset = 30;
  q.q = "Kopi";
  CHECK(product::listCacheKey("7", q) == "products:list:7:10:30:kopi");
  q.q.clear();
  CHECK(product::listCacheKey("7", q) == "products:list:7:10:30:");
}
