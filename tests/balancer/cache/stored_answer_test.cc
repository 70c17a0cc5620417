#include "balancer/cache/stored_answer.h"

#include <catch2/catch.hpp>

#include "test_headers.h"

using namespace balancer::cache;
using cache_test::fields;
using cache_test::headers;
using Kind = StoredAnswer::Kind;

namespace {

constexpr int64_t kNowMs = 1764892800000;

// A stored 200 with both validators and a complete body ("0123456789" by default).
std::shared_ptr<CachedObject> stored(int status = 200, bool complete = true,
                                     const std::string& body = "0123456789") {
  ObjectHead head;
  head.status = status;
  head.headers = fields({{"Cache-Control", "max-age=60"},
                         {"ETag", "\"v1\""},
                         {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
                         {"Content-Type", "text/plain"},
                         {"Content-Location", "/doc"},
                         {"Vary", "Accept-Encoding"}});
  head.content_length = body.size();
  head.request_ms = head.response_ms = kNowMs;
  auto object = makeObject(std::move(head), HeuristicPolicy{});
  if (complete) {
    object->body->append(body);
    object->body->finish();
  }
  return object;
}

StoredAnswer answer(const CachedObject& object,
                    std::initializer_list<std::pair<std::string, std::string>> request,
                    bool is_get = true) {
  return answerFromStore(object, headers(request), is_get);
}

}  // namespace

TEST_CASE("stored answer: If-None-Match compares weakly, takes lists and *", "[cache]") {
  auto object = stored();
  CHECK(answer(*object, {}).kind == Kind::kFull);
  CHECK(answer(*object, {{"If-None-Match", "\"v1\""}}).kind == Kind::kNotModified);
  CHECK(answer(*object, {{"If-None-Match", "W/\"v1\""}}).kind == Kind::kNotModified);
  CHECK(answer(*object, {{"If-None-Match", "\"a\", \"v1\""}}).kind == Kind::kNotModified);
  CHECK(answer(*object, {{"If-None-Match", "\"a\""}, {"If-None-Match", "\"v1\""}}).kind ==
        Kind::kNotModified);
  CHECK(answer(*object, {{"If-None-Match", "*"}}).kind == Kind::kNotModified);
  CHECK(answer(*object, {{"If-None-Match", "\"v2\""}}).kind == Kind::kFull);
  // HEAD too
  CHECK(answer(*object, {{"If-None-Match", "\"v1\""}}, false).kind == Kind::kNotModified);
}

TEST_CASE("stored answer: If-Modified-Since, ignored beside If-None-Match", "[cache]") {
  auto object = stored();
  CHECK(answer(*object, {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}).kind ==
        Kind::kNotModified);
  CHECK(answer(*object, {{"If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT"}}).kind ==
        Kind::kNotModified);
  CHECK(answer(*object, {{"If-Modified-Since", "Sat, 05 Nov 1994 08:49:37 GMT"}}).kind ==
        Kind::kFull);
  CHECK(answer(*object, {{"If-Modified-Since", "not a date"}}).kind == Kind::kFull);
  CHECK(answer(*object, {{"If-None-Match", "\"v2\""},
                         {"If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT"}})
            .kind == Kind::kFull);
}

TEST_CASE("stored answer: If-Modified-Since without Last-Modified compares with Date, else "
          "the time received",
          "[cache]") {
  for (bool with_date : {true, false}) {
    ObjectHead head;
    head.status = 200;
    head.headers = fields({{"Cache-Control", "max-age=60"}});
    if (with_date) {
      head.headers.push_back({"Date", "Thu, 04 Dec 2025 00:00:00 GMT"});  // kNowMs - 1 day
    }
    head.request_ms = head.response_ms = kNowMs;
    auto object = makeObject(std::move(head), HeuristicPolicy{});
    const char* between = "Thu, 04 Dec 2025 12:00:00 GMT";
    CHECK(answer(*object, {{"If-Modified-Since", "Fri, 05 Dec 2025 00:00:00 GMT"}}).kind ==
          Kind::kNotModified);
    CHECK(answer(*object, {{"If-Modified-Since", between}}).kind ==
          (with_date ? Kind::kNotModified : Kind::kFull));
    CHECK(answer(*object, {{"If-Modified-Since", "Wed, 03 Dec 2025 00:00:00 GMT"}}).kind ==
          Kind::kFull);
    // If-Unmodified-Since still needs a real Last-Modified.
    CHECK(answer(*object, {{"If-Unmodified-Since", "Wed, 03 Dec 2025 00:00:00 GMT"}}).kind ==
          Kind::kFull);
  }
}

TEST_CASE("stored answer: If-Match and If-Unmodified-Since fail with 412", "[cache]") {
  auto object = stored();
  CHECK(answer(*object, {{"If-Match", "\"v1\""}}).kind == Kind::kFull);
  CHECK(answer(*object, {{"If-Match", "\"v2\""}}).kind == Kind::kPreconditionFailed);
  CHECK(answer(*object, {{"If-Unmodified-Since", "Sat, 05 Nov 1994 08:49:37 GMT"}}).kind ==
        Kind::kPreconditionFailed);
}

TEST_CASE("stored answer: conditions apply to a stored 2xx only", "[cache]") {
  auto not_found = stored(404);
  CHECK(answer(*not_found, {{"If-None-Match", "\"v1\""}}).kind == Kind::kFull);
  CHECK(answer(*not_found, {{"Range", "bytes=0-1"}}).kind == Kind::kFull);
}

TEST_CASE("stored answer: Range from the stored body, 416, If-Range", "[cache]") {
  auto object = stored();
  StoredAnswer part = answer(*object, {{"Range", "bytes=2-4"}});
  CHECK(part.kind == Kind::kPartial);
  CHECK(part.range.first == 2);
  CHECK(part.range.last == 4);
  CHECK(part.content_range == "bytes 2-4/10");
  CHECK(answer(*object, {{"Range", "bytes=-3"}}).content_range == "bytes 7-9/10");
  StoredAnswer unsatisfiable = answer(*object, {{"Range", "bytes=10-"}});
  CHECK(unsatisfiable.kind == Kind::kUnsatisfiable);
  CHECK(unsatisfiable.content_range == "bytes */10");
  StoredAnswer several = answer(*object, {{"Range", "bytes=5-6,0-1,1-2"}});
  CHECK(several.kind == Kind::kMultipart);
  REQUIRE(several.ranges.size() == 2);
  CHECK((several.ranges[0].first == 0 && several.ranges[0].last == 2));
  CHECK((several.ranges[1].first == 5 && several.ranges[1].last == 6));
  CHECK(answer(*object, {{"Range", "bytes=0-1"}}, false).kind == Kind::kFull);  // HEAD
  CHECK(answer(*object, {{"Range", "bytes=0-1"}, {"If-Range", "\"v1\""}}).kind ==
        Kind::kPartial);
  CHECK(answer(*object, {{"Range", "bytes=0-1"}, {"If-Range", "\"v0\""}}).kind == Kind::kFull);
  CHECK(answer(*object, {{"Range", "bytes=0-1"},
                         {"If-Range", "Sun, 06 Nov 1994 08:49:37 GMT"}})
            .kind == Kind::kPartial);
  // Still filling: the length the origin announced bounds the range.
  auto filling = stored(200, false);
  CHECK(answer(*filling, {{"Range", "bytes=8-"}}).content_range == "bytes 8-9/10");
  // ...but several ranges need the whole body: until then, the whole 200.
  CHECK(answer(*filling, {{"Range", "bytes=0-1,5-6"}}).kind == Kind::kFull);
}

TEST_CASE("stored answer: ranges adding up past kMultipartMaxBytes get the whole 200",
          "[cache]") {
  // A multipart body is a copy per request; the whole 200 is sent from the shared object.
  auto large = stored(200, true, std::string(kMultipartMaxBytes + 100, 'x'));
  CHECK(answer(*large, {{"Range", "bytes=0-0,2-"}}).kind == Kind::kFull);
  CHECK(answer(*large, {{"Range", "bytes=0-0,2-10"}}).kind == Kind::kMultipart);
  CHECK(answer(*large, {{"Range", "bytes=5-"}}).kind == Kind::kPartial);  // one range: a view
}

TEST_CASE("stored answer: a multipart/byteranges body of several ranges", "[cache]") {
  auto object = stored();
  CHECK(multipartBody(*object, {{0, 1}, {8, 9}}, "B") ==
        "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n"
        "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89\r\n"
        "--B--\r\n");
}

TEST_CASE("stored answer: a 304's head keeps the validators and drops content metadata",
          "[cache]") {
  auto object = stored();
  std::string lines = notModifiedLines(*object, kNowMs + 3000);
  CHECK(lines ==
        "Cache-Control: max-age=60\r\nETag: \"v1\"\r\n"
        "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Location: /doc\r\n"
        "Vary: Accept-Encoding\r\nAge: 3\r\n");
}
