#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/http/parser.h"

using http::Parser;
using http::ParseError;

namespace {
// Records what the parser reports; optionally pauses after each message.
struct Recorder final : http::ParserListener {
  std::vector<std::string> targets;
  std::string body;
  int complete = 0;
  bool pause = false;
  Parser* parser = nullptr;
  int onHeadersComplete() override {
    targets.emplace_back(parser->target());
    return 0;
  }
  int onBody(const char* data, size_t len) override {
    body.append(data, len);
    return 0;
  }
  int onMessageComplete() override {
    ++complete;
    return pause ? kPause : 0;
  }
};

struct Fixture {
  Recorder rec;
  http::ParserLimits limits;
  std::unique_ptr<Parser> parser;
  explicit Fixture(http::ParserLimits l = {}) : limits(l) {
    parser = std::make_unique<Parser>(Parser::Kind::kRequest, &rec, &limits);
    rec.parser = parser.get();
  }
  Parser::Result feed(const std::string& s) { return parser->execute(s.data(), s.size()); }
};
}  // namespace

TEST_CASE("headers are kept whole even when they arrive in pieces") {
  Fixture f;
  std::string req = "GET /a?b=1 HTTP/1.1\r\nHost: shop.test\r\nX-Long: abcdef\r\n\r\n";
  for (char c : req) {
    REQUIRE(f.parser->execute(&c, 1).status == Parser::Status::kOk);
  }
  REQUIRE(f.rec.complete == 1);
  CHECK(f.rec.targets[0] == "/a?b=1");
  CHECK(f.parser->headers().find("host") == "shop.test");
  CHECK(f.parser->headers().find("X-LONG") == "abcdef");
}

TEST_CASE("a header with an empty value does not merge with the next name") {
  Fixture f;
  auto r = f.feed("GET / HTTP/1.1\r\nX-Empty:\r\nConnection: close\r\nHost: x\r\n\r\n");
  REQUIRE(r.status == Parser::Status::kOk);
  REQUIRE(f.parser->headers().size() == 3);
  CHECK(f.parser->headers().name(0) == "X-Empty");
  CHECK(f.parser->headers().value(0).empty());
  CHECK(f.parser->headers().find(http::HeaderKind::kConnection) == "close");
}

TEST_CASE("chunked bodies are decoded") {
  Fixture f;
  auto r = f.feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(r.status == Parser::Status::kOk);
  CHECK(f.rec.body == "hello world");
}

TEST_CASE("pausing after a message leaves pipelined requests unconsumed") {
  Fixture f;
  f.rec.pause = true;
  std::string two = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
  auto r = f.feed(two);
  REQUIRE(r.status == Parser::Status::kPaused);
  CHECK(f.rec.complete == 1);
  std::string rest = two.substr(r.consumed);
  CHECK(rest.rfind("GET /2", 0) == 0);
  f.parser->resume();
  r = f.feed(rest);
  CHECK(r.status == Parser::Status::kPaused);
  CHECK(f.rec.targets == std::vector<std::string>{"/1", "/2"});
}

TEST_CASE("limits: header bytes, header count and body size") {
  http::ParserLimits limits;
  limits.max_header_bytes = 100;
  limits.max_headers = 3;
  limits.max_body_size = 10;
  {
    Fixture f(limits);
    auto r = f.feed("GET / HTTP/1.1\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n");
    CHECK(r.status == Parser::Status::kError);
    CHECK(f.parser->error() == ParseError::kHeadersTooLarge);
  }
  {
    Fixture f(limits);
    auto r = f.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    CHECK(r.status == Parser::Status::kError);
    CHECK(f.parser->error() == ParseError::kHeadersTooLarge);
  }
  {
    Fixture f(limits);
    auto r = f.feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
    CHECK(r.status == Parser::Status::kError);
    CHECK(f.parser->error() == ParseError::kBodyTooLarge);
  }
  {
    Fixture f(limits);
    auto r = f.feed(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n");
    CHECK(r.status == Parser::Status::kError);
    CHECK(f.parser->error() == ParseError::kBodyTooLarge);
  }
}

TEST_CASE("malformed and smuggling-shaped requests are refused") {
  const char* bad[] = {
      "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
      "\x01\x02garbage\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET /m HTTP/1.1\r\nUser-Agent: x\r\n\r\n",         // HTTP/1.1 without Host
      "GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n",       // an unclosed IPv6 literal
      "GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
      "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /nine\nHost: x\n\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
      "GET / HTTP/1.1\r\nX:\ta\r\n \tfolded\r\n\r\n",
      "GET /lf HTTP/1.1\nHost: x\r\n\r\n",              // a request line ended by a bare LF
      "GET /lf  HTTP/1.0\nHost: x\r\n\r\n",             // the same after two spaces
  };
  for (const char* req : bad) {
    INFO(req);
    Fixture f;
    CHECK(f.feed(req).status == Parser::Status::kError);
    CHECK(f.parser->error() == ParseError::kMalformed);
  }
}

TEST_CASE("chunk extensions count toward the head's size limit") {
  http::ParserLimits limits;
  limits.max_header_bytes = 200;
  Fixture f(limits);
  std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  REQUIRE(f.feed(head).status == Parser::Status::kOk);
  CHECK(f.feed("1;a=b\r\nx\r\n").status == Parser::Status::kOk);
  std::string ext(300, 'e');
  CHECK(f.feed("1;" + ext + "=v\r\nx\r\n").status == Parser::Status::kError);
  CHECK(f.parser->error() == ParseError::kHeadersTooLarge);
}

TEST_CASE("a folded header value is refused even when the fold starts a new read") {
  Fixture f;
  CHECK(f.feed("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n").status == Parser::Status::kOk);
  CHECK(f.feed(" folded\r\n\r\n").status == Parser::Status::kError);
}

TEST_CASE("a request line's bare LF is refused wherever the reads split it") {
  std::string bare = "GET /lf HTTP/1.1\nHost: x\r\n\r\n";
  std::string good = "GET /lf HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t cut = 1; cut < 20; ++cut) {
    INFO("split at " << cut);
    Fixture bad_f;
    auto first = bad_f.feed(bare.substr(0, cut));
    bool refused = first.status == Parser::Status::kError ||
                   bad_f.feed(bare.substr(cut)).status == Parser::Status::kError;
    CHECK(refused);
    CHECK(bad_f.rec.complete == 0);
    Fixture good_f;
    CHECK(good_f.feed(good.substr(0, cut)).status == Parser::Status::kOk);
    CHECK(good_f.feed(good.substr(cut)).status == Parser::Status::kOk);
    CHECK(good_f.rec.complete == 1);
  }
  // A pipelined second request is checked too.
  Fixture f;
  f.feed(good + bare);
  CHECK(f.rec.complete == 1);
  CHECK(f.parser->error() == ParseError::kMalformed);
}

TEST_CASE("a value split by the end of a read is joined, not taken for a fold") {
  Fixture f;
  CHECK(f.feed("GET / HTTP/1.1\r\nHost: x\r\nX-Words: hello").status == Parser::Status::kOk);
  CHECK(f.feed(" world\r\n\r\n").status == Parser::Status::kOk);
  CHECK(f.parser->headers().find("x-words") == "hello world");
}

TEST_CASE("an upgrade request stops the parser with the next protocol's bytes left over") {
  Fixture f;
  std::string req =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05";
  auto r = f.feed(req);
  REQUIRE(r.status == Parser::Status::kUpgrade);
  CHECK(req.substr(r.consumed) == "\x81\x05");
}

TEST_CASE("an HTTP/1.1 request needs a Host; targets must have one of the four forms") {
  {
    Fixture f;  // HTTP/1.0 had no Host
    auto r = f.feed("GET /m HTTP/1.0\r\n\r\n");
    CHECK(r.status != Parser::Status::kError);
  }
  struct Target {
    const char* text;
    llhttp_method_t method;
  };
  const Target valid[] = {
      {"/", HTTP_GET},
      {"/a/b?c=d", HTTP_GET},
      {"http://shop.test/a?b", HTTP_GET},
      {"http://shop.test:8080", HTTP_GET},
      {"https://[::1]:8443/x", HTTP_POST},
      {"*", HTTP_OPTIONS},
      {"shop.test:443", HTTP_CONNECT},
  };
  const Target invalid[] = {
      {"http://[::1/", HTTP_GET},            // unclosed IPv6 literal
      {"http://[::1", HTTP_GET},
      {"http:///path", HTTP_GET},            // no host
      {"http://user@shop.test/", HTTP_GET},  // userinfo
      {"http://shop.test:80x/", HTTP_GET},
      {"*", HTTP_GET},
      {"shop.test/a", HTTP_GET},
      {"1http://x/", HTTP_GET},
      {"", HTTP_GET},
      {"/x", HTTP_CONNECT},
  };
  for (const Target& t : valid) {
    INFO(t.text);
    CHECK(Parser::isValidTarget(t.text, t.method));
  }
  for (const Target& t : invalid) {
    INFO(t.text);
    CHECK_FALSE(Parser::isValidTarget(t.text, t.method));
  }
}
