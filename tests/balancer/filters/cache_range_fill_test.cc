// The cache filter's Range and conditional answers, and collapsed forwarding onto a fill.
#include "cache_fixture.h"

using namespace cache_filter_test;

TEST_CASE("cache filter: Range from a stored object: 206, 416, If-Range", "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/bytes");
  c.cache.onRequestHead(first);
  c.respond(first, 200, headers({{"Cache-Control", "max-age=60"}, {"ETag", "\"r\""}}),
            "0123456789");
  FilterContext& part = c.start(f, "/bytes", "GET", {{"Range", "bytes=3-5"}});
  Verdict v = c.cache.onRequestHead(part);
  REQUIRE(v.action == Verdict::Action::kRespond);
  CHECK(v.response->status == 206);
  CHECK(v.response->content_length == 3u);
  CHECK(v.response->headers.find("Content-Range: bytes 3-5/10\r\n") != std::string::npos);
  CHECK(v.response->headers.find("X-Cache: HIT\r\n") != std::string::npos);
  CHECK(drain(*v.response) == "345");

  FilterContext& past = c.start(f, "/bytes", "GET", {{"Range", "bytes=10-"}});
  Verdict none = c.cache.onRequestHead(past);
  CHECK(none.response->status == 416);
  CHECK(none.response->headers.find("Content-Range: bytes */10\r\n") != std::string::npos);

  FilterContext& changed =
      c.start(f, "/bytes", "GET", {{"Range", "bytes=3-5"}, {"If-Range", "\"old\""}});
  Verdict whole = c.cache.onRequestHead(changed);
  CHECK(whole.response->status == 200);
  CHECK(drain(*whole.response) == "0123456789");
}

TEST_CASE("cache filter: a Range or conditional miss goes to the origin without filling "
          "for others; a 200 is stored",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& ranged = c.start(f, "/m", "GET", {{"Range", "bytes=0-1"}});
  CHECK(c.cache.onRequestHead(ranged).goesOn());
  CHECK(c.zone->fills.inProgress() == 0);
  c.respond(ranged, 206, headers({{"Cache-Control", "max-age=60"},
                                  {"Content-Range", "bytes 0-1/4"}}), "ab");
  CHECK(c.zone->store.objects() == 0);
  FilterContext& conditional = c.start(f, "/m", "GET", {{"If-None-Match", "\"z\""}});
  CHECK(c.cache.onRequestHead(conditional).goesOn());
  CHECK(c.zone->fills.inProgress() == 0);
  c.respond(conditional, 200, headers({{"Cache-Control", "max-age=60"}}), "abcd");
  CHECK(c.zone->store.objects() == 1);
}

TEST_CASE("cache filter: Range and conditional misses follow a fill in progress: 206, 304",
          "[cache][filters]") {
  CacheFixture c;
  std::deque<std::function<void()>> loop;  // this worker's loop, run by hand
  balancer::cache::setThreadPoster([&](std::function<void()> task) { loop.push_back(task); });
  FilterFixture filler_f, ranged_f, inm_f, late_f;
  FilterContext& filler = c.start(filler_f, "/f");
  REQUIRE(c.cache.onRequestHead(filler).goesOn());
  FilterContext& ranged = c.start(ranged_f, "/f", "GET", {{"Range", "bytes=1-2"}});
  CHECK(c.cache.onRequestHead(ranged).action == Verdict::Action::kPause);
  FilterContext& inm = c.start(inm_f, "/f", "GET", {{"If-None-Match", "\"v1\""}});
  CHECK(c.cache.onRequestHead(inm).action == Verdict::Action::kPause);

  auto origin = headers({{"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""}});
  ResponseFacts facts{200, &origin, {}, 4, false};
  c.cache.onResponseHead(filler, facts);
  StringSink sink;
  c.cache.onResponseBody(filler, "ab", false, sink);
  while (!loop.empty()) {
    auto task = loop.front();
    loop.pop_front();
    task();
  }
  REQUIRE(ranged_f.host.resumed.size() == 1);
  Verdict partial = ranged_f.host.resumed[0].verdict;
  REQUIRE(partial.action == Verdict::Action::kRespond);
  CHECK(partial.response->status == 206);
  REQUIRE(inm_f.host.resumed.size() == 1);
  CHECK(inm_f.host.resumed[0].verdict.response->status == 304);
  // One that comes while the object fills follows it at once.
  FilterContext& late = c.start(late_f, "/f", "GET", {{"Range", "bytes=0-0"}});
  Verdict followed = c.cache.onRequestHead(late);
  REQUIRE(followed.action == Verdict::Action::kRespond);
  CHECK(followed.response->status == 206);
  c.cache.onResponseBody(filler, "cd", false, sink);
  c.cache.onResponseBody(filler, "", true, sink);
  CHECK(drain(*partial.response) == "bc");
  CHECK(drain(*followed.response) == "a");
  CHECK(c.zone->fills.inProgress() == 0);
  balancer::cache::setThreadPoster(nullptr);
}

TEST_CASE("cache filter: several ranges of a stored body are one multipart/byteranges 206",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/mp");
  c.cache.onRequestHead(first);
  c.respond(first, 200, headers({{"Cache-Control", "max-age=60"}, {"Content-Type", "text/x"}}),
            "abcdefghij");
  FilterContext& ranged = c.start(f, "/mp", "GET", {{"Range", "bytes=0-1, -2"}});
  Verdict v = c.cache.onRequestHead(ranged);
  REQUIRE(v.action == Verdict::Action::kRespond);
  CHECK(v.response->status == 206);
  const std::string& head = v.response->headers;
  CHECK(head.find("Content-Type: text/x") == std::string::npos);
  const std::string type = "Content-Type: multipart/byteranges; boundary=";
  const size_t at = head.find(type);
  REQUIRE(at != std::string::npos);
  const std::string boundary =
      head.substr(at + type.size(), head.find("\r\n", at) - at - type.size());
  CHECK(head.find("X-Cache: HIT\r\n") != std::string::npos);
  const std::string body = drain(*v.response);
  CHECK(body == "--" + boundary + "\r\nContent-Type: text/x\r\nContent-Range: bytes 0-1/10\r\n\r\n"
                "ab\r\n--" + boundary + "\r\nContent-Type: text/x\r\nContent-Range: bytes 8-9/10\r\n"
                "\r\nij\r\n--" + boundary + "--\r\n");
  CHECK(v.response->content_length == body.size());
}

TEST_CASE("cache filter: concurrent misses collapse onto the first one's fill",
          "[cache][filters]") {
  CacheFixture c;
  std::deque<std::function<void()>> loop;  // this worker's loop, run by hand
  balancer::cache::setThreadPoster([&](std::function<void()> task) { loop.push_back(task); });
  FilterFixture filler_f, waiter_f, follower_f;
  FilterContext& filler = c.start(filler_f, "/hot");
  CHECK(c.cache.onRequestHead(filler).goesOn());
  FilterContext& waiter = c.start(waiter_f, "/hot");
  CHECK(c.cache.onRequestHead(waiter).action == Verdict::Action::kPause);
  CHECK(waiter_f.host.pauses == 1);

  ResponseFacts facts;
  facts.status = 200;
  auto origin = headers({{"Cache-Control", "max-age=60"}});
  facts.headers = &origin;
  c.cache.onResponseHead(filler, facts);  // no Content-Length: the body grows
  StringSink sink;
  c.cache.onResponseBody(filler, "part one, ", false, sink);
  while (!loop.empty()) {
    auto task = loop.front();
    loop.pop_front();
    task();
  }
  REQUIRE(waiter_f.host.resumed.size() == 1);
  Verdict resumed = waiter_f.host.resumed[0].verdict;
  REQUIRE(resumed.action == Verdict::Action::kRespond);
  CHECK_FALSE(resumed.response->content_length);  // chunked: it is still filling

  FilterContext& follower = c.start(follower_f, "/hot");  // joins mid-fill
  Verdict followed = c.cache.onRequestHead(follower);
  REQUIRE(followed.action == Verdict::Action::kRespond);

  Collector waiter_body, follower_body;
  resumed.response->pull(waiter_body, 1024);
  followed.response->pull(follower_body, 1024);
  CHECK(waiter_body.body == "part one, ");
  resumed.response->pull(waiter_body, 1024);  // nothing more yet: waits
  c.cache.onResponseBody(filler, "part two", false, sink);
  c.cache.onResponseBody(filler, "", true, sink);
  while (!loop.empty()) {
    auto task = loop.front();
    loop.pop_front();
    task();
  }
  CHECK(waiter_body.body == "part one, part two");
  resumed.response->pull(waiter_body, 1024);
  CHECK(waiter_body.ended);
  while (!follower_body.ended) {
    followed.response->pull(follower_body, 1024);
  }
  CHECK(follower_body.body == "part one, part two");
  CHECK(sink.bytes == "part one, part two");
  CHECK(c.zone->store.objects() == 1);
  CHECK(c.zone->fills.inProgress() == 0);
  balancer::cache::setThreadPoster(nullptr);
}

TEST_CASE("cache filter: a fill whose client leaves lets the waiters go to the origin",
          "[cache][filters]") {
  CacheFixture c;
  std::deque<std::function<void()>> loop;
  balancer::cache::setThreadPoster([&](std::function<void()> task) { loop.push_back(task); });
  FilterFixture waiter_f;
  {
    FilterFixture filler_f;
    FilterContext& filler = c.start(filler_f, "/gone");
    CHECK(c.cache.onRequestHead(filler).goesOn());
    FilterContext& waiter = c.start(waiter_f, "/gone");
    CHECK(c.cache.onRequestHead(waiter).action == Verdict::Action::kPause);
  }  // the filler's exchange ends without a response
  while (!loop.empty()) {
    auto task = loop.front();
    loop.pop_front();
    task();
  }
  REQUIRE(waiter_f.host.resumed.size() == 1);
  CHECK(waiter_f.host.resumed[0].verdict.goesOn());
  CHECK(c.zone->fills.inProgress() == 0);
  balancer::cache::setThreadPoster(nullptr);
}
