#include <catch2/catch.hpp>

#include "common/http/conditional.h"
#include "common/http/header_list.h"

using http::EntityTag;
using http::evaluatePreconditions;
using http::PreconditionResult;
using http::Preconditions;
using http::Validators;

namespace {

constexpr int64_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

Validators file(std::string_view etag = "\"5f-1a\"") {
  Validators v;
  v.etag = etag;
  v.last_modified = kModified;
  return v;
}

EntityTag tag(std::string_view text) {
  auto t = http::parseEntityTag(text);
  REQUIRE(t);
  return *t;
}

}  // namespace

TEST_CASE("entity-tags parse strong and weak, and refuse what is not one") {
  CHECK(tag("\"abc\"").opaque == "\"abc\"");
  CHECK_FALSE(tag("\"abc\"").weak);
  CHECK(tag("W/\"abc\"").weak);
  CHECK(tag("W/\"abc\"").opaque == "\"abc\"");
  CHECK(tag("\"\"").opaque == "\"\"");
  CHECK(tag("\"a,b\"").opaque == "\"a,b\"");  // a comma is an etagc
  for (const char* bad : {"abc", "\"abc", "w/\"abc\"", "\"a\"b", "\"a b\"", "\"a\" ", ""}) {
    INFO(bad);
    CHECK_FALSE(http::parseEntityTag(bad));
  }
}

TEST_CASE("strong comparison needs both strong; weak compares the opaque-tag only") {
  // RFC 9110 section 8.8.3.2's table.
  CHECK_FALSE(http::strongMatch(tag("W/\"1\""), tag("W/\"1\"")));
  CHECK(http::weakMatch(tag("W/\"1\""), tag("W/\"1\"")));
  CHECK_FALSE(http::strongMatch(tag("W/\"1\""), tag("W/\"2\"")));
  CHECK_FALSE(http::weakMatch(tag("W/\"1\""), tag("W/\"2\"")));
  CHECK_FALSE(http::strongMatch(tag("W/\"1\""), tag("\"1\"")));
  CHECK(http::weakMatch(tag("W/\"1\""), tag("\"1\"")));
  CHECK(http::strongMatch(tag("\"1\""), tag("\"1\"")));
}

TEST_CASE("entity-tag lists: stars, spaces, empty elements, a bad element ends the list") {
  EntityTag current = tag("\"b\"");
  CHECK(http::entityTagListMatches("*", current, true));
  CHECK(http::entityTagListMatches(" * ", current, false));
  CHECK(http::entityTagListMatches("\"a\", \"b\"", current, false));
  CHECK(http::entityTagListMatches("\"a\",\t\"b\"", current, false));
  CHECK(http::entityTagListMatches(", ,\"a\" ,, W/\"b\"", current, true));
  CHECK_FALSE(http::entityTagListMatches("W/\"b\"", current, false));
  CHECK_FALSE(http::entityTagListMatches("\"a\", \"c\"", current, true));
  CHECK_FALSE(http::entityTagListMatches("\"a\" junk, \"b\"", current, true));
  CHECK_FALSE(http::entityTagListMatches("\"a,b\"", current, true));  // one tag, not two
  CHECK(http::entityTagListMatches("\"a,b\"", tag("\"a,b\""), false));
}

TEST_CASE("If-None-Match: a weak match is 304 for GET and HEAD, 412 otherwise") {
  Preconditions p;
  p.if_none_match = "W/\"5f-1a\"";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kFailed);
  p.if_none_match = "\"other\", \"5f-1a\"";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  p.if_none_match = "\"other\"";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kProceed);
  p.if_none_match = "*";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  Validators missing = file();
  missing.exists = false;
  CHECK(evaluatePreconditions(p, missing, false) == PreconditionResult::kProceed);
}

TEST_CASE("If-Modified-Since counts only without If-None-Match, and only for GET and HEAD") {
  Preconditions p;
  p.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kProceed);
  p.if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT";  // a second before the change
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kProceed);
  p.if_modified_since = "Sunday, 06-Nov-94 08:49:37 GMT";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  p.if_modified_since = "yesterday";  // not a date: ignored
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kProceed);
  // If-None-Match present and false: If-Modified-Since is not looked at.
  p.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  p.if_none_match = "\"changed\"";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kProceed);
  // No modification date: nothing to compare.
  p.if_none_match.reset();
  Validators undated = file();
  undated.last_modified.reset();
  CHECK(evaluatePreconditions(p, undated, true) == PreconditionResult::kProceed);
}

TEST_CASE("If-Match compares strongly and fails with 412, before If-None-Match") {
  Preconditions p;
  p.if_match = "\"5f-1a\"";
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kProceed);
  p.if_match = "W/\"5f-1a\"";
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kFailed);
  p.if_match = "\"x\"";
  p.if_none_match = "\"5f-1a\"";  // would be 304, but step 1 comes first
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kFailed);
  p.if_match = "*";
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  Validators missing = file();
  missing.exists = false;
  p.if_none_match.reset();
  CHECK(evaluatePreconditions(p, missing, true) == PreconditionResult::kFailed);
  p.if_match = "\"5f-1a\"";
  CHECK(evaluatePreconditions(p, file(""), true) == PreconditionResult::kFailed);  // no ETag
}

TEST_CASE("If-Unmodified-Since fails when modified after it, and only without If-Match") {
  Preconditions p;
  p.if_unmodified_since = "Sun, 06 Nov 1994 08:49:36 GMT";
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kFailed);
  p.if_unmodified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kProceed);
  p.if_unmodified_since = "garbage";
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kProceed);
  p.if_unmodified_since = "Sun, 06 Nov 1994 08:49:36 GMT";
  p.if_match = "\"5f-1a\"";  // If-Match decides; If-Unmodified-Since is not evaluated
  CHECK(evaluatePreconditions(p, file(), false) == PreconditionResult::kProceed);
}

TEST_CASE("preconditions are read from headers, repeated lines joined") {
  http::HeaderList headers;
  auto add = [&](std::string_view name, std::string_view value) {
    headers.appendName(name.data(), name.size());
    headers.endName();
    headers.appendValue(value.data(), value.size());
  };
  add("if-none-match", "\"a\"");
  add("Host", "x");
  add("If-None-Match", "\"5f-1a\"");
  add("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT");
  Preconditions p = Preconditions::fromHeaders(headers);
  REQUIRE(p.if_none_match);
  CHECK(*p.if_none_match == "\"a\", \"5f-1a\"");
  CHECK(p.if_modified_since);
  CHECK_FALSE(p.if_match);
  CHECK(p.any());
  CHECK(evaluatePreconditions(p, file(), true) == PreconditionResult::kNotModified);
  CHECK_FALSE(Preconditions::fromHeaders(http::HeaderList()).any());
}
