#include <catch2/catch.hpp>

#include "common/http/range.h"

using http::evaluateRange;
using http::RangeDecision;
using Kind = http::RangeDecision::Kind;

namespace {

// "206 first-last" / "416" / "200" for compact checks.
std::string decide(std::string_view field, uint64_t length) {
  RangeDecision d = evaluateRange(field, length);
  switch (d.kind) {
    case Kind::kPartial:
      return "206 " + std::to_string(d.range.first) + "-" + std::to_string(d.range.last);
    case Kind::kUnsatisfiable:
      return "416";
    case Kind::kFull:
      break;
  }
  return "200";
}

}  // namespace

TEST_CASE("a single satisfiable range is a 206 with its Content-Range") {
  CHECK(decide("bytes=0-99", 1000) == "206 0-99");
  CHECK(decide("bytes=500-", 1000) == "206 500-999");
  CHECK(decide("bytes=-100", 1000) == "206 900-999");
  CHECK(decide("bytes=999-999", 1000) == "206 999-999");
  CHECK(decide("bytes=900-5000", 1000) == "206 900-999");  // last-pos clipped
  CHECK(decide("bytes=-5000", 1000) == "206 0-999");        // suffix longer than the file
  CHECK(decide("BYTES = 0-0 ", 10) == "200");                // no OWS around '='
  CHECK(decide("Bytes=0-0", 10) == "206 0-0");                // the unit is case-insensitive
  CHECK(decide(" bytes=1-2\t", 10) == "206 1-2");
  RangeDecision d = evaluateRange("bytes=0-99", 1000);
  CHECK(d.status() == 206);
  CHECK(d.contentRange(1000) == "bytes 0-99/1000");
  CHECK(d.range.length() == 100);
}

TEST_CASE("nothing satisfiable is a 416 with bytes */length") {
  CHECK(decide("bytes=1000-", 1000) == "416");
  CHECK(decide("bytes=1000-2000", 1000) == "416");
  CHECK(decide("bytes=-0", 1000) == "416");
  CHECK(decide("bytes=5000-, 2000-3000", 1000) == "416");
  CHECK(decide("bytes=99999999999999999999999-", 1000) == "416");  // saturates, no overflow
  RangeDecision d = evaluateRange("bytes=1000-", 1000);
  CHECK(d.status() == 416);
  CHECK(d.contentRange(1000) == "bytes */1000");
}

TEST_CASE("an invalid ranges-specifier is ignored: 200") {
  for (const char* field : {"", "bytes", "bytes=", "bytes=,", "items=0-1", "bytes=abc",
                            "bytes=5-1", "bytes=1-2-3", "bytes=0x10-", "bytes=--1",
                            "bytes=1", "bytes=0-1, junk", "bytes=-", "bytes= - 1"}) {
    INFO(field);
    CHECK(decide(field, 1000) == "200");
    CHECK(evaluateRange(field, 1000).contentRange(1000).empty());
  }
}

TEST_CASE("several ranges: merged into one when they overlap or touch, else the whole") {
  CHECK(decide("bytes=0-9, 10-19", 100) == "206 0-19");
  CHECK(decide("bytes=10-19,0-14", 100) == "206 0-19");
  CHECK(decide("bytes=0-9, 5000-", 100) == "206 0-9");  // the unsatisfiable one is dropped
  CHECK(decide("bytes=0-0,-1", 100) == "200");          // disjoint: no multipart, the whole
  CHECK(decide("bytes=0-9, 20-29", 100) == "200");
  CHECK(decide("bytes=, 0-9 ,", 100) == "206 0-9");     // empty list elements
}

TEST_CASE("several disjoint ranges, sorted and merged, for a caller that sends multipart") {
  std::vector<http::ByteRange> disjoint;
  CHECK(evaluateRange("bytes=50-59, 0-9, 5-12, -10", 100, &disjoint).kind ==
        http::RangeDecision::Kind::kFull);
  REQUIRE(disjoint.size() == 3);
  CHECK((disjoint[0].first == 0 && disjoint[0].last == 12));
  CHECK((disjoint[1].first == 50 && disjoint[1].last == 59));
  CHECK((disjoint[2].first == 90 && disjoint[2].last == 99));
  std::vector<http::ByteRange> one;
  CHECK(evaluateRange("bytes=0-9, 10-19", 100, &one).kind == http::RangeDecision::Kind::kPartial);
  CHECK(one.empty());
}

TEST_CASE("too many range-specs are not looked at") {
  std::string many = "bytes=0-0";
  for (int i = 0; i < 100; ++i) {
    many += ",0-0";
  }
  CHECK(decide(many, 100) == "200");
}

TEST_CASE("an empty representation has no ranges but is a 200, not a 416") {
  CHECK(decide("bytes=0-", 0) == "200");
  CHECK(decide("bytes=-1", 0) == "200");
}

TEST_CASE("If-Range: a strong ETag match or the exact Last-Modified date") {
  http::Validators v;
  v.etag = "\"5f-1a\"";
  v.last_modified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(http::ifRangeHolds("\"5f-1a\"", v));
  CHECK_FALSE(http::ifRangeHolds("\"5f-1b\"", v));
  CHECK_FALSE(http::ifRangeHolds("W/\"5f-1a\"", v));  // weak tags never match
  CHECK(http::ifRangeHolds("Sun, 06 Nov 1994 08:49:37 GMT", v));
  CHECK_FALSE(http::ifRangeHolds("Sun, 06 Nov 1994 08:49:38 GMT", v));  // later is not equal
  CHECK_FALSE(http::ifRangeHolds("Sun, 06 Nov 1994 08:49:36 GMT", v));
  CHECK_FALSE(http::ifRangeHolds("garbage", v));
  v.etag = "W/\"5f-1a\"";
  CHECK_FALSE(http::ifRangeHolds("\"5f-1a\"", v));  // the current one is weak
  http::Validators none;
  CHECK_FALSE(http::ifRangeHolds("\"5f-1a\"", none));
  CHECK_FALSE(http::ifRangeHolds("Sun, 06 Nov 1994 08:49:37 GMT", none));
}
