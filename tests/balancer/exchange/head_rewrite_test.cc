#include <catch2/catch.hpp>

#include "balancer/exchange/head_rewrite.h"

using namespace balancer;

namespace {
struct NoOp final : http::ParserListener {
  int onHeadersComplete() override { return 0; }
  int onBody(const char*, size_t) override { return 0; }
  int onMessageComplete() override { return kPause; }
};

// Parses `text` (one head) and keeps the parser for the rewrite.
struct Parsed {
  NoOp listener;
  http::ParserLimits limits;
  http::Parser parser;
  Parsed(http::Parser::Kind kind, const std::string& text) : parser(kind, &listener, &limits) {
    auto r = parser.execute(text.data(), text.size());
    REQUIRE(r.status != http::Parser::Status::kError);
  }
};
}  // namespace

TEST_CASE("a request head is rewritten for the upstream") {
  Parsed req(http::Parser::Kind::kRequest,
             "POST /api/items?x=1 HTTP/1.1\r\nHost: shop.test\r\nConnection: keep-alive, X-Hop\r\n"
             "X-Hop: secret\r\nKeep-Alive: 5\r\nX-Forwarded-For: 10.0.0.1\r\n"
             "X-Forwarded-Proto: forged\r\nX-User-Id: forged\r\nX-Request-Id: old\r\n"
             "Content-Length: 3\r\nAccept: */*\r\n\r\nabc");
  RequestTarget target = splitTarget(req.parser.target(), "shop.test");
  std::vector<std::string> drop = {"x-user-id"};
  RequestRewrite rw;
  rw.strip_prefix = "/api";
  rw.client_ip = "127.0.0.1";
  rw.keep_forwarded_for = true;  // a trusted proxy's list is appended to
  rw.request_id = "rid";
  rw.tls = true;
  rw.drop_headers = drop;
  rw.extra_headers = "X-User-Id: 42\r\n";
  std::string out;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out ==
        "POST /items?x=1 HTTP/1.1\r\nHost: shop.test\r\nAccept: */*\r\nContent-Length: 3\r\n"
        "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
        "X-Request-Id: rid\r\nX-User-Id: 42\r\n\r\n");
}

TEST_CASE("client fields a filter answers for itself are left out of the request head") {
  Parsed req(http::Parser::Kind::kRequest,
             "GET /p HTTP/1.1\r\nHost: shop.test\r\nif-none-match: \"c\"\r\n"
             "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nAccept: */*\r\n\r\n");
  RequestTarget target = splitTarget(req.parser.target(), "shop.test");
  static constexpr std::string_view kReplaced[] = {"If-None-Match", "If-Modified-Since"};
  RequestRewrite rw;
  rw.client_ip = "127.0.0.1";
  rw.request_id = "rid";
  rw.filter_drop_headers = kReplaced;
  rw.extra_headers = "If-None-Match: \"s\"\r\n";
  std::string out;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out ==
        "GET /p HTTP/1.1\r\nHost: shop.test\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n"
        "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\nIf-None-Match: \"s\"\r\n\r\n");
}

TEST_CASE("X-Forwarded-For: an untrusted peer's list is replaced, a trusted one's kept whole") {
  Parsed req(http::Parser::Kind::kRequest,
             "GET /a HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n"
             "X-Forwarded-For: 10.0.0.9\r\n\r\n");
  RequestTarget target = splitTarget(req.parser.target(), "h");
  RequestRewrite rw;
  rw.client_ip = "203.0.113.5";
  std::string out;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out.find("X-Forwarded-For: 203.0.113.5\r\n") != std::string::npos);
  CHECK(out.find("6.6.6.6") == std::string::npos);
  rw.keep_forwarded_for = true;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out.find("X-Forwarded-For: 6.6.6.6, 10.0.0.9, 203.0.113.5\r\n") != std::string::npos);
}

TEST_CASE("a header with '_' in its name is left out and counted") {
  Parsed req(http::Parser::Kind::kRequest,
             "GET /a HTTP/1.1\r\nHost: shop.test\r\nX_User_Id: 1\r\nX-Ok: y\r\n"
             "accept_language: en\r\n\r\n");
  RequestTarget target = splitTarget(req.parser.target(), "shop.test");
  size_t dropped = 0;
  RequestRewrite rw;
  rw.client_ip = "127.0.0.1";
  rw.request_id = "rid";
  rw.dropped_underscore = &dropped;
  std::string out;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out.find("X_User_Id") == std::string::npos);
  CHECK(out.find("accept_language") == std::string::npos);
  CHECK(out.find("X-Ok: y\r\n") != std::string::npos);
  CHECK(dropped == 2);
}

TEST_CASE("an absolute-form target's authority replaces the Host header") {
  Parsed req(http::Parser::Kind::kRequest,
             "GET http://a.test:8080/x?y HTTP/1.1\r\nHost: b.test\r\n\r\n");
  RequestTarget target = splitTarget(req.parser.target(), "b.test");
  RequestRewrite rw;
  rw.client_ip = "127.0.0.1";
  rw.request_id = "rid";
  std::string out;
  rewriteRequestHead(req.parser, target, rw, &out);
  CHECK(out.rfind("GET /x?y HTTP/1.1\r\nHost: a.test:8080\r\n", 0) == 0);
  CHECK(out.find("b.test") == std::string::npos);
}

TEST_CASE("stripping the whole path leaves /; a missing Host gets the default") {
  Parsed req(http::Parser::Kind::kRequest, "GET /api HTTP/1.0\r\n\r\n");
  RequestRewrite rw;
  rw.strip_prefix = "/api";
  rw.client_ip = "::1";
  rw.request_id = "r";
  rw.default_host = "products";
  std::string out;
  rewriteRequestHead(req.parser, splitTarget(req.parser.target(), ""), rw, &out);
  CHECK(out.rfind("GET / HTTP/1.1\r\nHost: products\r\n", 0) == 0);
  CHECK(out.find("X-Forwarded-For: ::1\r\n") != std::string::npos);
  CHECK(out.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
}

TEST_CASE("an upgrade keeps Upgrade and says Connection: upgrade") {
  Parsed req(http::Parser::Kind::kRequest,
             "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  RequestRewrite rw;
  rw.upgrade = true;
  std::string out;
  rewriteRequestHead(req.parser, splitTarget(req.parser.target(), "h"), rw, &out);
  CHECK(out.find("Upgrade: websocket\r\n") != std::string::npos);
  CHECK(out.find("Connection: upgrade\r\n") != std::string::npos);
}

TEST_CASE("a response head loses hop-by-hop headers and gets the client's framing") {
  Parsed resp(http::Parser::Kind::kResponse,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-Secret\r\n"
              "X-Secret: 1\r\nContent-Type: text/plain\r\n\r\n");
  ResponseRewrite rw;
  rw.request_id = "rid";
  rw.rechunk = true;
  rw.keep_alive = false;
  std::string out;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        "X-Request-Id: rid\r\nConnection: close\r\n\r\n");
}

TEST_CASE("an interim head loses hop-by-hop headers; a 204 loses its Content-Length") {
  Parsed early(http::Parser::Kind::kResponse,
               "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: X-Hop\r\n"
               "X-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n");
  std::string out;
  copyInterimHead(early.parser, &out);
  CHECK(out == "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");

  Parsed empty(http::Parser::Kind::kResponse,
               "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-A: b\r\n\r\n");
  ResponseRewrite rw;
  rw.request_id = "rid";
  rewriteResponseHead(empty.parser, rw, &out);
  CHECK(out == "HTTP/1.1 204 No Content\r\nX-A: b\r\nX-Request-Id: rid\r\n\r\n");
}

TEST_CASE("an HTTP/1.0 client is told keep-alive; an upstream request id is kept") {
  Parsed resp(http::Parser::Kind::kResponse,
              "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\nX-Request-Id: up\r\n\r\n");
  ResponseRewrite rw;
  rw.request_id = "ours";
  rw.client_http10 = true;
  std::string out;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out ==
        "HTTP/1.1 404 Nope\r\nX-Request-Id: up\r\nContent-Length: 0\r\n"
        "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("fields a filter says itself are left out of the upstream's response head") {
  Parsed resp(http::Parser::Kind::kResponse,
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-cache: MISS\r\nX-Cached: keep\r\n\r\n");
  static constexpr std::string_view kOwn[] = {"X-Cache"};
  ResponseRewrite rw;
  rw.request_id = "rid";
  rw.drop_headers = kOwn;
  rw.extra_headers = "X-Cache: HIT\r\n";
  std::string out;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nX-Cached: keep\r\nContent-Length: 2\r\nX-Request-Id: rid\r\n"
        "X-Cache: HIT\r\n\r\n");
}

TEST_CASE("a rewritten body weakens a strong ETag and drops Content-Length; weak ones stay") {
  Parsed resp(http::Parser::Kind::kResponse,
              "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\netag: \"v1-abc\"\r\n"
              "Content-Type: application/json\r\n\r\n");
  ResponseRewrite rw;
  rw.request_id = "rid";
  rw.rechunk = true;
  rw.body_rewritten = true;
  rw.weaken_etag = true;
  rw.extra_headers = "Content-Encoding: gzip\r\n";
  std::string out;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\netag: W/\"v1-abc\"\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nX-Request-Id: rid\r\nContent-Encoding: gzip\r\n\r\n");

  Parsed weak(http::Parser::Kind::kResponse,
              "HTTP/1.1 200 OK\r\nETag: W/\"v2\"\r\nX-ETag: \"not-one\"\r\n\r\n");
  rewriteResponseHead(weak.parser, rw, &out);
  CHECK(out.find("ETag: W/\"v2\"\r\n") != std::string::npos);
  CHECK(out.find("X-ETag: \"not-one\"\r\n") != std::string::npos);

  rw.weaken_etag = false;  // a body changed but not equivalent, or not changed: as it was
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out.find("etag: \"v1-abc\"\r\n") != std::string::npos);
}

TEST_CASE("a local response's strong ETag line is weakened when asked, else copied") {
  std::string lines = "Content-Type: text/html\r\nETag: \"f-1\"\r\nX-ETag: \"x\"\r\n";
  std::string out;
  appendLocalHeaders(lines, false, false, &out);
  CHECK(out == lines);
  out.clear();
  appendLocalHeaders(lines, true, false, &out);
  CHECK(out == "Content-Type: text/html\r\nETag: W/\"f-1\"\r\nX-ETag: \"x\"\r\n");
  out.clear();
  appendLocalHeaders("etag:W/\"w\"\r\n", true, false, &out);
  CHECK(out == "etag:W/\"w\"\r\n");
}

TEST_CASE("a rewritten body drops Accept-Ranges (ranges of the upstream's bytes no longer apply)") {
  Parsed resp(http::Parser::Kind::kResponse,
              "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\naccept-ranges: bytes\r\n"
              "Content-Type: application/json\r\n\r\n");
  ResponseRewrite rw;
  rw.request_id = "rid";
  std::string out;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out.find("accept-ranges: bytes\r\n") != std::string::npos);  // unchanged body: kept
  rw.rechunk = true;
  rw.body_rewritten = true;
  rewriteResponseHead(resp.parser, rw, &out);
  CHECK(out.find("ccept-ranges") == std::string::npos);

  std::string lines = "Content-Type: text/css\r\nAccept-Ranges: bytes\r\nETag: \"f-1\"\r\n";
  std::string local;
  appendLocalHeaders(lines, false, false, &local);
  CHECK(local == lines);
  local.clear();
  appendLocalHeaders(lines, true, true, &local);
  CHECK(local == "Content-Type: text/css\r\nETag: W/\"f-1\"\r\n");
}
