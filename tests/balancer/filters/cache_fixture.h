#pragma once

// The cache filter on a zone of its own, with sinks that collect what it answers: shared by
// the cache filter's unit tests.
#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "../cache/test_headers.h"
#include "balancer/cache/loop_poster.h"
#include "balancer/filters/cache.h"
#include "balancer/filters/cache_zones.h"
#include "balancer/filters/filter_chain.h"
#include "filter_fixture.h"
using namespace balancer::filters;
using namespace filters_test;
using cache_test::headers;

namespace cache_filter_test {

struct StringSink final : BodySink {
  std::string bytes;
  void write(std::string_view piece) override { bytes.append(piece); }
};

struct Collector final : LocalBodySink {
  std::string body;
  bool ended = false;
  bool failed = false;
  void onBody(std::string_view piece) override { body.append(piece); }
  void onEnd() override { ended = true; }
  void onFailed() override { failed = true; }
};

// The whole body of a local response whose object is complete (answers within pull).
inline std::string drain(LocalResponse& response) {
  Collector sink;
  while (!sink.ended && !sink.failed) {
    size_t before = sink.body.size();
    response.pull(sink, 1 << 20);
    if (!sink.ended && !sink.failed && sink.body.size() == before) {
      FAIL("the response did not answer within pull");
    }
  }
  return sink.body;
}

struct CacheFixture {
  std::shared_ptr<CacheZone> zone = std::make_shared<CacheZone>("z", balancer::cache::StoreLimits{});
  int64_t now_ms = 1764892800000;
  Cache cache{zone, CacheOptions{}, [this] { return now_ms; }};

  FilterContext& start(FilterFixture& f, std::string_view target, std::string_view method = "GET",
                       std::initializer_list<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> fields = {{"Host", "shop.example"}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    FilterContext& ctx = f.request(target);
    f.headers.clear();
    for (const auto& [name, value] : fields) {
      f.headers.appendName(name.data(), name.size());
      f.headers.endName();
      f.headers.appendValue(value.data(), value.size());
    }
    ctx.request.target = balancer::splitTarget(f.target, "shop.example", &f.path);
    ctx.request.method = method;
    return ctx;
  }

  // The origin answers: head, then the body in one piece. Returns what the client got.
  std::string respond(FilterContext& ctx, int status, const http::HeaderList& response,
                      std::string body) {
    ResponseFacts facts;
    facts.status = status;
    facts.headers = &response;
    facts.content_length = body.size();
    cache.onResponseHead(ctx, facts);
    StringSink sink;
    cache.onResponseBody(ctx, body, false, sink);
    cache.onResponseBody(ctx, "", true, sink);
    cache.onLog(ctx, status);
    return sink.bytes;
  }

  uint64_t count(CacheResult result) {
    return zone->results[static_cast<size_t>(result)].load();
  }
};

}  // namespace cache_filter_test
