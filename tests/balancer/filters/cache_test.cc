#include "cache_fixture.h"

using namespace cache_filter_test;

TEST_CASE("cache filter: a miss is stored as it streams, the next request is a hit",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& miss = c.start(f, "/p?id=1");
  CHECK(c.cache.onRequestHead(miss).goesOn());
  auto origin = headers({{"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""}});
  CHECK(c.respond(miss, 200, origin, "product") == "product");
  CHECK(*miss.out.response_headers == "X-Cache: MISS\r\n");
  CHECK(c.zone->store.objects() == 1);

  c.now_ms += 10000;
  FilterContext& hit = c.start(f, "/p?id=1");
  Verdict v = c.cache.onRequestHead(hit);
  REQUIRE(v.action == Verdict::Action::kRespond);
  CHECK(v.response->status == 200);
  CHECK(v.response->content_length == 7u);
  CHECK(v.response->headers ==
        "Cache-Control: max-age=60\r\nETag: \"v1\"\r\nAge: 10\r\nX-Cache: HIT\r\n");
  CHECK(drain(*v.response) == "product");
  c.cache.onLog(hit, 200);
  CHECK(c.count(CacheResult::kHit) == 1);
  CHECK(c.count(CacheResult::kMiss) == 1);
}

TEST_CASE("cache filter: what a later filter (compress) made is what is stored and served",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& gzip = c.start(f, "/p?id=2", "GET", {{"Accept-Encoding", "gzip"}});
  *gzip.out.response_headers = "RateLimit-Remaining: 9\r\n";  // an earlier filter's: not stored
  CHECK(c.cache.onRequestHead(gzip).goesOn());
  // compress (after the cache in the chain) saw the response head first.
  gzip.out.response_headers->append("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
  gzip.out.weaken_etag = true;
  gzip.out.response_body_rewritten = true;
  auto origin = headers({{"Cache-Control", "max-age=60"}, {"ETag", "\"v2\""}});
  c.respond(gzip, 200, origin, "GZIPPED");

  FilterContext& again = c.start(f, "/p?id=2", "GET", {{"Accept-Encoding", "gzip"}});
  Verdict hit = c.cache.onRequestHead(again);
  REQUIRE(hit.action == Verdict::Action::kRespond);
  const std::string& h = hit.response->headers;
  CHECK(h.find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(h.find("ETag: W/\"v2\"\r\n") != std::string::npos);
  CHECK(h.find("RateLimit-Remaining") == std::string::npos);
  // The length is the stored bytes' (known once complete), never the origin's plain one.
  CHECK((!hit.response->content_length || *hit.response->content_length == 7u));
  CHECK(drain(*hit.response) == "GZIPPED");

  // A client that takes no gzip is another variant: not this one.
  FilterContext& plain = c.start(f, "/p?id=2");
  CHECK(c.cache.onRequestHead(plain).goesOn());
}

TEST_CASE("cache filter: an uncacheable response is not stored", "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  for (int i = 0; i < 2; ++i) {
    FilterContext& ctx = c.start(f, "/private");
    CHECK(c.cache.onRequestHead(ctx).goesOn());
    c.respond(ctx, 200, headers({{"Cache-Control", "private, max-age=60"}}), "x");
  }
  CHECK(c.zone->store.objects() == 0);
  CHECK(c.count(CacheResult::kMiss) == 2);
  CHECK(c.zone->fills.inProgress() == 0);
}

TEST_CASE("cache filter: a stale object is revalidated with its validators; a 304 freshens it",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/r");
  c.cache.onRequestHead(first);
  c.respond(first, 200,
            headers({{"Cache-Control", "max-age=5"},
                     {"ETag", "\"v1\""},
                     {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
            "body");
  c.now_ms += 6000;
  FilterContext& stale = c.start(f, "/r");
  REQUIRE(c.cache.onRequestHead(stale).goesOn());
  CHECK(*stale.out.identity_headers ==
        "If-None-Match: \"v1\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  ResponseFacts not_modified;
  not_modified.status = 304;
  auto fields = headers({{"Cache-Control", "max-age=100"}, {"ETag", "\"v1\""}});
  not_modified.headers = &fields;
  c.cache.onResponseHead(stale, not_modified);
  REQUIRE(stale.out.replacement);
  CHECK(stale.out.replacement->headers.find("X-Cache: REVALIDATED\r\n") != std::string::npos);
  CHECK(drain(*stale.out.replacement) == "body");

  c.now_ms += 50000;  // fresh again for 100 s from the 304
  FilterContext& hit = c.start(f, "/r");
  CHECK(c.cache.onRequestHead(hit).action == Verdict::Action::kRespond);
}

TEST_CASE("cache filter: If-Match, If-Range and Range on a stale object are left to the origin",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/c");
  c.cache.onRequestHead(first);
  c.respond(first, 200, headers({{"Cache-Control", "max-age=0"}, {"ETag", "\"v1\""}}), "b");
  FilterContext& if_match = c.start(f, "/c", "GET", {{"If-Match", "\"v0\""}});
  CHECK(c.cache.onRequestHead(if_match).goesOn());
  CHECK(if_match.out.identity_headers->empty());
  FilterContext& range = c.start(f, "/c", "GET", {{"Range", "bytes=0-0"}});
  CHECK(c.cache.onRequestHead(range).goesOn());
  CHECK(range.out.identity_headers->empty());
}

TEST_CASE("cache filter: a stale object and the client's If-None-Match / If-Modified-Since: "
          "the stored validators go in their place",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/c");
  c.cache.onRequestHead(first);
  c.respond(first, 200,
            headers({{"Cache-Control", "max-age=0"},
                     {"ETag", "\"v1\""},
                     {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
            "b");
  FilterContext& conditional =
      c.start(f, "/c", "GET",
              {{"If-None-Match", "\"v0\""}, {"If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT"}});
  CHECK(c.cache.onRequestHead(conditional).goesOn());
  // The client's conditions are left out of the forwarded request; the stored ones go.
  CHECK(f.dropped_request_headers ==
        std::vector<std::string_view>{"If-None-Match", "If-Modified-Since"});
  CHECK(*conditional.out.identity_headers ==
        "If-None-Match: \"v1\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  // So the origin's 304 is about the stored response: it freshens it, and the client's "v0"
  // (not the stored tag) gets the 200.
  auto ours = headers({{"ETag", "\"v1\""}, {"Cache-Control", "max-age=60"}});
  c.cache.onResponseHead(conditional, ResponseFacts{304, &ours, {}, std::nullopt, false});
  REQUIRE(conditional.out.replacement);
  CHECK(conditional.out.replacement->status == 200);
  CHECK(conditional.out.replacement->headers.find("X-Cache: REVALIDATED\r\n") !=
        std::string::npos);
  c.cache.onLog(conditional, 200);
  FilterContext& after = c.start(f, "/c");
  CHECK(c.cache.onRequestHead(after).action == Verdict::Action::kRespond);
  // Without stored validators the client's conditions go as they are.
  FilterContext& bare = c.start(f, "/bare");
  c.cache.onRequestHead(bare);
  c.respond(bare, 200, headers({{"Cache-Control", "max-age=0"}}), "b");
  FilterContext& asks = c.start(f, "/bare", "GET", {{"If-None-Match", "\"v0\""}});
  CHECK(c.cache.onRequestHead(asks).goesOn());
  CHECK(f.dropped_request_headers.empty());
  CHECK(asks.out.identity_headers->empty());
}

TEST_CASE("cache filter: a 304 naming another ETag to our own revalidation: the stored "
          "response, unchanged, for an unconditional client",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/e");
  c.cache.onRequestHead(first);
  c.respond(first, 200, headers({{"Cache-Control", "max-age=2"}, {"ETag", "\"abc\""}}), "b");
  c.now_ms += 3000;
  FilterContext& stale = c.start(f, "/e");
  REQUIRE(c.cache.onRequestHead(stale).goesOn());
  CHECK(*stale.out.identity_headers == "If-None-Match: \"abc\"\r\n");
  auto other = headers({{"ETag", "\"ghi\""}, {"Cache-Control", "max-age=100"}});
  c.cache.onResponseHead(stale, ResponseFacts{304, &other, {}, std::nullopt, false});
  // Never a 304 to a client that asked without conditions.
  REQUIRE(stale.out.replacement);
  CHECK(stale.out.replacement->status == 200);
  CHECK(stale.out.replacement->headers.find("ETag: \"abc\"\r\n") != std::string::npos);
  CHECK(stale.out.replacement->headers.find("X-Cache: REVALIDATED\r\n") != std::string::npos);
  CHECK(drain(*stale.out.replacement) == "b");
  c.cache.onLog(stale, 200);
  // Not freshened by it (RFC 9111 4.3.4): the next request asks the origin again.
  FilterContext& after = c.start(f, "/e");
  CHECK(c.cache.onRequestHead(after).goesOn());
}

TEST_CASE("cache filter: a fresh hit answers the client's If-None-Match / If-Modified-Since "
          "with a 304",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/n");
  c.cache.onRequestHead(first);
  c.respond(first, 200,
            headers({{"Cache-Control", "max-age=60"},
                     {"ETag", "W/\"v1\""},
                     {"Expires", "Thu, 01 Jan 2099 00:00:00 GMT"},
                     {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
                     {"Content-Type", "text/plain"},
                     {"Vary", "Accept-Encoding"}}),
            "body");
  c.now_ms += 2000;
  FilterContext& inm = c.start(f, "/n", "GET", {{"If-None-Match", "\"x\", \"v1\""}});
  Verdict v = c.cache.onRequestHead(inm);
  REQUIRE(v.action == Verdict::Action::kRespond);
  CHECK(v.response->status == 304);
  CHECK(v.response->headers ==
        "Cache-Control: max-age=60\r\nETag: W/\"v1\"\r\n"
        "Expires: Thu, 01 Jan 2099 00:00:00 GMT\r\n"
        "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nVary: Accept-Encoding\r\n"
        "Age: 2\r\nX-Cache: HIT\r\n");
  c.cache.onLog(inm, 304);
  CHECK(c.count(CacheResult::kHit) == 1);

  FilterContext& ims = c.start(f, "/n", "GET",
                               {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}});
  CHECK(c.cache.onRequestHead(ims).response->status == 304);
  FilterContext& other = c.start(f, "/n", "GET", {{"If-None-Match", "\"v2\""}});
  Verdict full = c.cache.onRequestHead(other);
  CHECK(full.response->status == 200);
  CHECK(drain(*full.response) == "body");
  FilterContext& failed = c.start(f, "/n", "GET", {{"If-Match", "\"v2\""}});
  CHECK(c.cache.onRequestHead(failed).response->status == 412);
}

TEST_CASE("cache filter: a stale object revalidated for a conditional client: 304 if it "
          "matches the freshened object, else its 200",
          "[cache][filters]") {
  for (const char* client_tag : {"\"v1\"", "\"v0\""}) {
    CacheFixture c;
    FilterFixture f;
    FilterContext& first = c.start(f, "/rv");
    c.cache.onRequestHead(first);
    c.respond(first, 200, headers({{"Cache-Control", "max-age=5"}, {"ETag", "\"v1\""}}),
              "body");
    c.now_ms += 6000;
    FilterContext& stale = c.start(f, "/rv", "GET", {{"If-None-Match", client_tag}});
    REQUIRE(c.cache.onRequestHead(stale).goesOn());
    CHECK(*stale.out.identity_headers == "If-None-Match: \"v1\"\r\n");
    auto ours = headers({{"ETag", "\"v1\""}, {"Cache-Control", "max-age=100"}});
    c.cache.onResponseHead(stale, ResponseFacts{304, &ours, {}, std::nullopt, false});
    REQUIRE(stale.out.replacement);
    const std::string& h = stale.out.replacement->headers;
    CHECK(h.find("X-Cache: REVALIDATED\r\n") != std::string::npos);
    CHECK(h.find("Cache-Control: max-age=100\r\n") != std::string::npos);
    if (std::string_view(client_tag) == "\"v1\"") {
      CHECK(stale.out.replacement->status == 304);
    } else {
      CHECK(stale.out.replacement->status == 200);
      CHECK(drain(*stale.out.replacement) == "body");
    }
  }
}

TEST_CASE("cache filter: stale-while-revalidate serves stale and sends one background refresh",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/swr?x=1");
  c.cache.onRequestHead(first);
  c.respond(first, 200,
            headers({{"Cache-Control", "max-age=5, stale-while-revalidate=60"},
                     {"ETag", "\"v1\""}}),
            "old");
  c.now_ms += 10000;
  for (int i = 0; i < 3; ++i) {
    FilterContext& stale = c.start(f, "/swr?x=1", "GET",
                                   {{"Accept-Encoding", "gzip"}, {"If-None-Match", "\"zz\""},
                                    {"Cache-Control", "max-stale=0"}});
    Verdict v = c.cache.onRequestHead(stale);
    REQUIRE(v.action == Verdict::Action::kRespond);
    CHECK(v.response->headers.find("Age: 10\r\nX-Cache: STALE\r\n") != std::string::npos);
  }
  // One refresh for the three: the client's request without its conditions, asking no-cache.
  REQUIRE(f.host.background.size() == 1);
  CHECK(f.host.background[0] ==
        "GET /swr?x=1 HTTP/1.1\r\nHost: shop.example\r\nAccept-Encoding: gzip\r\n"
        "Cache-Control: no-cache\r\n\r\n");

  // The refresh itself (a background request) revalidates; its end frees the key.
  {
    FilterFixture bf;
    FilterContext& refresh = c.start(bf, "/swr?x=1", "GET", {{"Cache-Control", "no-cache"}});
    refresh.request.background = true;
    REQUIRE(c.cache.onRequestHead(refresh).goesOn());
    CHECK(*refresh.out.identity_headers == "If-None-Match: \"v1\"\r\n");
    CHECK(bf.host.background.empty());
    c.respond(refresh, 200, headers({{"Cache-Control", "max-age=5"}}), "new");
    CHECK(c.zone->refreshes.running() == 1);
  }
  CHECK(c.zone->refreshes.running() == 1);  // until the background request is over
  f.host.background_done[0]();
  CHECK(c.zone->refreshes.running() == 0);
  FilterFixture after_f;
  FilterContext& after = c.start(after_f, "/swr?x=1");
  Verdict fresh = c.cache.onRequestHead(after);
  REQUIRE(fresh.action == Verdict::Action::kRespond);
  CHECK(drain(*fresh.response) == "new");
}

TEST_CASE("cache filter: stale-if-error answers when the origin fails", "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& first = c.start(f, "/s");
  c.cache.onRequestHead(first);
  c.respond(first, 200, headers({{"Cache-Control", "max-age=1, stale-if-error=60"}}), "old");
  c.now_ms += 30000;
  FilterContext& failing = c.start(f, "/s");
  REQUIRE(c.cache.onRequestHead(failing).goesOn());
  c.cache.onUpstreamError(failing, UpstreamErrorFacts{502, false});
  REQUIRE(failing.out.replacement);
  CHECK(drain(*failing.out.replacement) == "old");
  CHECK(failing.out.replacement->headers.find("X-Cache: STALE") != std::string::npos);

  c.now_ms += 60000;  // past the window: the error goes to the client
  FilterContext& late = c.start(f, "/s");
  c.cache.onRequestHead(late);
  c.cache.onUpstreamError(late, UpstreamErrorFacts{504, true});
  CHECK_FALSE(late.out.replacement);
}

TEST_CASE("cache filter: only-if-cached without a stored response is a 504", "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  FilterContext& ctx = c.start(f, "/none", "GET", {{"Cache-Control", "only-if-cached"}});
  Verdict v = c.cache.onRequestHead(ctx);
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 504);
}

TEST_CASE("cache filter: a successful POST invalidates its URI and same-host Location",
          "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  for (const char* path : {"/api/products", "/api/products/7", "/elsewhere"}) {
    FilterContext& ctx = c.start(f, path);
    c.cache.onRequestHead(ctx);
    c.respond(ctx, 200, headers({{"Cache-Control", "max-age=600"}}), "x");
  }
  REQUIRE(c.zone->store.objects() == 3);
  FilterContext& post = c.start(f, "/api/products", "POST");
  CHECK(c.cache.onRequestHead(post).goesOn());
  c.respond(post, 201,
            headers({{"Location", "http://shop.example/api/products/7"},
                     {"Content-Location", "http://other.example/elsewhere"}}),
            "");
  CHECK(c.zone->store.objects() == 1);  // the other host's URI is left alone
  FilterContext& failed = c.start(f, "/elsewhere", "DELETE");
  c.cache.onRequestHead(failed);
  c.respond(failed, 500, headers({}), "");
  CHECK(c.zone->store.objects() == 1);  // an error invalidates nothing
}

TEST_CASE("cache filter: variants per Vary; HEAD is answered from the GET", "[cache][filters]") {
  CacheFixture c;
  FilterFixture f;
  for (const char* encoding : {"gzip", "br"}) {
    FilterContext& ctx = c.start(f, "/v", "GET", {{"Accept-Encoding", encoding}});
    c.cache.onRequestHead(ctx);
    c.respond(ctx, 200, headers({{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"}}),
              encoding);
  }
  FilterContext& br = c.start(f, "/v", "GET", {{"Accept-Encoding", "br"}});
  Verdict v = c.cache.onRequestHead(br);
  REQUIRE(v.action == Verdict::Action::kRespond);
  CHECK(drain(*v.response) == "br");
  FilterContext& other = c.start(f, "/v", "GET", {{"Accept-Encoding", "zstd"}});
  CHECK(c.cache.onRequestHead(other).goesOn());
  FilterContext& head = c.start(f, "/v", "HEAD", {{"Accept-Encoding", "gzip"}});
  CHECK(c.cache.onRequestHead(head).action == Verdict::Action::kRespond);
}

TEST_CASE("cache zones: a reload keeps a zone whose sizes are unchanged", "[cache][filters]") {
  balancer::Config config;
  config.cache_zones.push_back({"edge", 1 << 20, 1 << 16});
  config.cache_zones.push_back({"other", 1 << 20, 1 << 16});
  auto first = CacheZones::reconcile(nullptr, config);
  REQUIRE(first->size() == 2);
  config.cache_zones[1].memory = 2 << 20;
  auto second = CacheZones::reconcile(first.get(), config);
  CHECK(second->find("edge") == first->find("edge"));
  CHECK(second->find("other") != first->find("other"));
  CHECK(second->find("none") == nullptr);
}

TEST_CASE("a route with cache: gets the cache filter on its zone, last in the chain",
          "[cache][filters]") {
  balancer::Config config = configWithRoutes(2);
  config.cache_zones.push_back({"edge", 1 << 20, 1 << 16});
  config.routes[0].rate_limit.emplace();
  config.routes[0].cache = balancer::RouteCacheConfig{};
  config.routes[0].cache->zone = "edge";
  auto zones = CacheZones::reconcile(nullptr, config);
  FilterChain chain = buildRouteChain(config, 0, zones.get());
  REQUIRE(chain.size() == 2);
  CHECK(chain.at(1).name() == "cache");
  CHECK(buildRouteChain(config, 0).size() == 1);  // no zones: no cache
  CHECK(buildRouteChain(config, 1, zones.get()).empty());
}
