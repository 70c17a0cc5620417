#include "services/product/representation.h"

#include <catch2/catch.hpp>

using product::cacheControl;
using product::ifNoneMatchMatches;
using product::lastModifiedOf;
using product::strongEtag;

TEST_CASE("Cache-Control of a read is public with max-age and stale-while-revalidate",
          "[product][representation]") {
  CHECK(cacheControl({10, 30}) == "public, max-age=10, stale-while-revalidate=30");
  CHECK(cacheControl({5, 0}) == "public, max-age=5");
}

TEST_CASE("a strong ETag names the exact bytes", "[product][representation]") {
  const std::string tag = strongEtag(R"({"id":1})");
  CHECK(tag.size() == 34);
  CHECK(tag.front() == '"');
  CHECK(tag.back() == '"');
  CHECK(tag.substr(0, 2) != "W/");
  CHECK(strongEtag(R"({"id":1})") == tag);
  CHECK(strongEtag(R"({"id":2})") != tag);
  CHECK(strongEtag(R"({"id":1} )") != tag);
}

TEST_CASE("If-None-Match matches by weak comparison over a list or *",
          "[product][representation]") {
  const std::string tag = "\"abc\"";
  CHECK(ifNoneMatchMatches("\"abc\"", tag));
  CHECK(ifNoneMatchMatches("W/\"abc\"", tag));  // weak comparison (RFC 9110 13.1.2)
  CHECK(ifNoneMatchMatches("\"x\", \"abc\"", tag));
  CHECK(ifNoneMatchMatches("\"x,y\",W/\"abc\"", tag));  // a comma inside a tag
  CHECK(ifNoneMatchMatches(" * ", tag));
  CHECK_FALSE(ifNoneMatchMatches("\"abcd\"", tag));
  CHECK_FALSE(ifNoneMatchMatches("\"ab\"", tag));
  CHECK_FALSE(ifNoneMatchMatches("abc", tag));  // not an entity tag
  CHECK_FALSE(ifNoneMatchMatches("\"abc", tag));
  CHECK_FALSE(ifNoneMatchMatches("", tag));
}

TEST_CASE("Last-Modified is the product's updated_at as an IMF-fixdate",
          "[product][representation]") {
  CHECK(product::httpDate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(lastModifiedOf(R"({"id":1,"description":"\"updated_at\":\"x","created_at":)"
                       R"("2026-01-01T00:00:00.000Z","updated_at":"2026-12-05T02:45:54.321Z"})") ==
        "Sat, 05 Dec 2026 02:45:54 GMT");
  CHECK_FALSE(lastModifiedOf(R"({"items":[],"limit":20})").has_value());
  CHECK_FALSE(lastModifiedOf(R"({"updated_at":"yesterday"})").has_value());
  CHECK_FALSE(lastModifiedOf(R"({"updated_at":"2026-12-05T02:45:54.321"})").has_value());
}
