#include "balancer/filters/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "filter_fixture.h"

using balancer::CompressConfig;
using balancer::filters::BodySink;
using balancer::filters::Compress;
using balancer::filters::ResponseFacts;
using compression::Encoding;
using namespace filters_test;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

class Collect final : public BodySink {
 public:
  void write(std::string_view bytes) override {
    ++writes;
    data.append(bytes);
  }
  std::string data;
  int writes = 0;
};

// An upstream's response head as the exchange gives it to the filters.
struct Response {
  Response(int status, Fields fields, std::optional<uint64_t> length = std::nullopt) {
    for (const auto& [name, value] : fields) {
      headers.appendName(name.data(), name.size());
      headers.endName();
      headers.appendValue(value.data(), value.size());
    }
    facts.status = status;
    facts.headers = &headers;
    facts.content_length = length;
  }
  http::HeaderList headers;
  ResponseFacts facts;
};

std::string gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out(1 << 20, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

std::string body(size_t n) {
  std::string s;
  while (s.size() < n) {
    s += "{\"id\":1,\"name\":\"a product\"},";
  }
  s.resize(n);
  return s;
}

// The filter's whole pass over one exchange: request head, response head, body in pieces.
struct Run {
  std::string headers;  // what the filter added to the response
  bool rewritten = false;
  bool weak = false;
  std::string out;  // the body the client gets
};

Run run(FilterFixture& f, Compress& filter, Fields request, Response& response,
        const std::string& content, std::string_view method = "GET", size_t piece = 1000) {
  FilterContext& ctx = f.request("/api");
  for (const auto& [name, value] : request) {
    f.headers.appendName(name.data(), name.size());
    f.headers.endName();
    f.headers.appendValue(value.data(), value.size());
  }
  ctx.request.method = method;
  REQUIRE(filter.onRequestHead(ctx).goesOn());
  filter.onResponseHead(ctx, response.facts);
  Run r;
  r.headers = f.response_headers;
  r.rewritten = ctx.out.response_body_rewritten;
  r.weak = ctx.out.weaken_etag;
  Collect client;
  for (size_t at = 0; at < content.size(); at += piece) {
    filter.onResponseBody(ctx, std::string_view(content).substr(at, piece), false, client);
  }
  filter.onResponseBody(ctx, {}, true, client);
  r.out = client.data;
  return r;
}

const Fields kJson = {{"Content-Type", "application/json; charset=utf-8"}};  // NOLINT

}  // namespace

TEST_CASE("a JSON response the client accepts gzipped is compressed, streamed and counted",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  Response response(200, {{"Content-Type", "application/json"}, {"ETag", "\"v1\""}});
  std::string content = body(20000);
  Run r = run(f, filter, {{"Accept-Encoding", "gzip"}}, response, content);
  CHECK(r.rewritten);
  CHECK(r.weak);
  CHECK(r.headers == "Vary: Accept-Encoding\r\nContent-Encoding: gzip\r\n");
  CHECK(r.out.size() < content.size() / 4);
  CHECK(gunzip(r.out) == content);
  const auto& route = f.metrics.route(0);
  CHECK(route.compress_in[static_cast<size_t>(Encoding::kGzip)].get() == content.size());
  CHECK(route.compress_out[static_cast<size_t>(Encoding::kGzip)].get() == r.out.size());
  // The encoder went back to the worker's pool for the next response.
  CHECK(f.services.encoder_pool.idle(Encoding::kGzip) == 1);
  Run again = run(f, filter, {{"Accept-Encoding", "gzip"}}, response, content);
  CHECK(gunzip(again.out) == content);
  CHECK(f.services.encoder_pool.made() == 1);
}

TEST_CASE("the route's preference and the client's q-values choose the coding",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  Response response(200, kJson);
  std::string content = body(5000);
  Run zstd = run(f, filter, {{"Accept-Encoding", "gzip, br, zstd"}}, response, content);
  CHECK(zstd.headers.find("Content-Encoding: zstd\r\n") != std::string::npos);
  std::string plain(content.size(), '\0');
  CHECK(ZSTD_decompress(plain.data(), plain.size(), zstd.out.data(), zstd.out.size()) ==
        content.size());
  CHECK(plain == content);
  Run br = run(f, filter, {{"Accept-Encoding", "gzip;q=0.5, br"}}, response, content);
  CHECK(br.headers.find("Content-Encoding: br\r\n") != std::string::npos);
  // Two Accept-Encoding fields are one list.
  Run two = run(f, filter, {{"Accept-Encoding", "zstd;q=0.1"}, {"Accept-Encoding", "gzip"}},
                response, content);
  CHECK(two.headers.find("Content-Encoding: gzip\r\n") != std::string::npos);
  CompressConfig gzip_only;
  gzip_only.encodings = {Encoding::kGzip};
  Compress only(gzip_only);
  Run g = run(f, only, {{"Accept-Encoding", "zstd, br, gzip"}}, response, content);
  CHECK(g.headers.find("Content-Encoding: gzip\r\n") != std::string::npos);
}

TEST_CASE("a client that does not ask gets the body plain, with Vary for caches",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  Response response(200, kJson);
  std::string content = body(5000);
  for (Fields request : {Fields{}, Fields{{"Accept-Encoding", "identity"}},
                         Fields{{"Accept-Encoding", "gzip;q=0"}},
                         Fields{{"Accept-Encoding", "deflate"}}}) {
    Run r = run(f, filter, request, response, content);
    CHECK(r.headers == "Vary: Accept-Encoding\r\n");
    CHECK_FALSE(r.rewritten);
    CHECK_FALSE(r.weak);
    CHECK(r.out == content);
  }
}

TEST_CASE("every skip rule leaves the response as it is, without Content-Encoding",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  std::string content = body(5000);
  Fields gzip = {{"Accept-Encoding", "gzip"}};
  struct Case {
    const char* why;
    int status;
    Fields response;
    Fields request;
    std::string_view method;
    std::optional<uint64_t> length;
  };
  const Case cases[] = {
      {"HEAD", 200, kJson, gzip, "HEAD", std::nullopt},
      {"Range", 200, kJson, {{"Accept-Encoding", "gzip"}, {"Range", "bytes=0-9"}}, "GET",
       std::nullopt},
      {"1xx", 103, kJson, gzip, "GET", std::nullopt},
      {"204", 204, kJson, gzip, "GET", std::nullopt},
      {"206", 206, kJson, gzip, "GET", std::nullopt},
      {"304", 304, kJson, gzip, "GET", std::nullopt},
      {"already encoded", 200, {{"Content-Type", "application/json"}, {"Content-Encoding", "br"}},
       gzip, "GET", std::nullopt},
      {"no-transform", 200,
       {{"Content-Type", "application/json"}, {"Cache-Control", "public, No-Transform"}}, gzip,
       "GET", std::nullopt},
      {"type not listed", 200, {{"Content-Type", "image/png"}}, gzip, "GET", std::nullopt},
      {"no type", 200, {}, gzip, "GET", std::nullopt},
      {"known length below min_size", 200, kJson, gzip, "GET", 1023},
  };
  for (const Case& c : cases) {
    INFO(c.why);
    Response response(c.status, c.response, c.length);
    Run r = run(f, filter, c.request, response, content, c.method);
    CHECK(r.headers.empty());
    CHECK_FALSE(r.rewritten);
    CHECK_FALSE(r.weak);
    CHECK(r.out == content);
  }
  CHECK(f.services.encoder_pool.made() == 0);
  // At min_size, or with no length known: compressed.
  Response at_min(200, kJson, 1024);
  CHECK(run(f, filter, gzip, at_min, content).rewritten);
  Response unknown(200, kJson);
  CHECK(run(f, filter, gzip, unknown, content).rewritten);
}

TEST_CASE("Vary: an upstream's own Accept-Encoding or * is not repeated; another is added to",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  std::string content = body(2000);
  Fields gzip = {{"Accept-Encoding", "gzip"}};
  Response listed(200, {{"Content-Type", "text/html"}, {"Vary", "Origin, accept-encoding"}});
  CHECK(run(f, filter, gzip, listed, content).headers == "Content-Encoding: gzip\r\n");
  Response star(200, {{"Content-Type", "text/html"}, {"Vary", "*"}});
  CHECK(run(f, filter, gzip, star, content).headers == "Content-Encoding: gzip\r\n");
  Response other(200, {{"Content-Type", "text/html"}, {"Vary", "Origin"}});
  CHECK(run(f, filter, gzip, other, content).headers ==
        "Vary: Accept-Encoding\r\nContent-Encoding: gzip\r\n");
}

TEST_CASE("types: defaults, wildcards, +suffixes and a route's own list", "[filters][compress]") {
  Compress defaults{CompressConfig{}};
  for (const char* type :
       {"text/html", "text/plain; charset=utf-8", "TEXT/CSS", "application/json",
        "application/javascript", "application/xml", "image/svg+xml",
        "application/problem+json", "application/atom+xml", " application/json ; q=1"}) {
    INFO(type);
    CHECK(defaults.compressesType(type));
  }
  for (const char* type : {"image/png", "application/octet-stream", "", "text", "text/",
                           "application/jsonx", "application/+json", "video/mp4"}) {
    INFO(type);
    CHECK_FALSE(defaults.compressesType(type));
  }
  CompressConfig custom;
  custom.types = {"application/wasm", "font/*"};
  Compress own(custom);
  CHECK(own.compressesType("application/wasm"));
  CHECK(own.compressesType("font/woff"));
  CHECK_FALSE(own.compressesType("text/html"));
}

TEST_CASE("an event stream goes out event by event; a local response's headers are read too",
          "[filters][compress]") {
  FilterFixture f;
  Compress filter(CompressConfig{});
  FilterContext& ctx = f.request("/events", {{"Accept-Encoding", "gzip"}});
  REQUIRE(filter.onRequestHead(ctx).goesOn());
  ResponseFacts local;
  local.status = 200;
  local.local = true;
  local.local_headers = "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  filter.onResponseHead(ctx, local);
  REQUIRE(ctx.out.response_body_rewritten);
  Collect client;
  filter.onResponseBody(ctx, "data: one\n\n", false, client);
  // Decodable at once, before the stream ends.
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(client.data.data());
  z.avail_in = static_cast<uInt>(client.data.size());
  char out[64];
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = sizeof(out);
  inflate(&z, Z_SYNC_FLUSH);
  CHECK(std::string(out, sizeof(out) - z.avail_out) == "data: one\n\n");
  inflateEnd(&z);
  filter.onResponseBody(ctx, {}, true, client);

  // A local response marked no-transform is left alone.
  FilterContext& next = f.request("/file", {{"Accept-Encoding", "gzip"}});
  REQUIRE(filter.onRequestHead(next).goesOn());
  local.local_headers = "Content-Type: text/html\r\nCache-Control: no-transform\r\n";
  filter.onResponseHead(next, local);
  CHECK_FALSE(next.out.response_body_rewritten);
}
