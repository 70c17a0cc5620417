// The exchange through its codec seam (ExchangeCodec), with a fake codec in place of the
// HTTP/1.1 session: what reaches the codec and in what order, backpressure, a client that
// leaves, and the answers filters make. The routes are static (a filter answers from files,
// read on the thread pool of the fixture's loop), so no upstream and no socket take part.
#include "balancer/exchange/exchange.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "balancer/static_files/open_file.h"
#include "exchange_fixture.h"

using exchange_test::ExchangeFixture;
using exchange_test::openFds;

namespace {

constexpr size_t kPiece = 64 * 1024;  // what the exchange pulls of a local body at once

const char* kStaticRoutes =
    "  - match: { path_prefix: /denied/ }\n"
    "    static: { root: ROOT }\n"
    "    deny: [10.0.0.0/8]\n"
    "  - match: { path_prefix: / }\n"
    "    static: { root: ROOT }\n"
    "    cors: { origins: [\"https://shop.test\"] }\n";

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + i % 26);
  }
  return s;
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: shop.test\r\n\r\n";
}

// `calls` is a head, body pieces, then the end and the exchange's end.
void checkOrder(const std::vector<std::string>& calls, const std::string& head) {
  REQUIRE(calls.size() >= 3);
  CHECK(calls.front() == head);
  for (size_t i = 1; i + 2 < calls.size(); ++i) {
    CHECK(calls[i].rfind("body ", 0) == 0);
  }
  CHECK(calls[calls.size() - 2] == "end");
  CHECK(calls.back() == "done");
}

}  // namespace

TEST_CASE("exchange: a file's head, then its body in pieces, then the end reach the codec") {
  ExchangeFixture f(kStaticRoutes);
  std::string content = pattern(3 * kPiece + 1000);
  f.files.file("big.bin", content);
  f.send(get("/big.bin"));
  // The static filter looks the file up on the thread pool: the exchange waits for it.
  CHECK(f.codec.calls.empty());
  CHECK(f.exchange->active());
  CHECK_FALSE(f.exchange->responseStarted());

  f.runLoop();
  checkOrder(f.codec.calls, "head 200");
  CHECK(f.codec.pieces() == 4);  // 3 x 64 KiB + the rest
  CHECK(f.codec.body == content);
  CHECK(f.codec.head.content_length == content.size());
  CHECK_FALSE(f.codec.head.no_body);
  CHECK_FALSE(f.codec.head.close);
  CHECK(f.codec.head_lines.find("Content-Type: application/octet-stream\r\n") !=
        std::string::npos);
  CHECK_FALSE(f.exchange->active());
  // Logged once, when it ended: the record is closed, the request counted on its route.
  CHECK_FALSE(f.record.open);
  CHECK(f.record.status == 200);
  CHECK(f.record.bytes_out == content.size());
  CHECK(f.counted(1, 200) == 1);
}

TEST_CASE("exchange: a HEAD gets the file's head and no body") {
  ExchangeFixture f(kStaticRoutes);
  f.files.file("page.html", "<p>hello</p>");
  f.send("HEAD /page.html HTTP/1.1\r\nHost: shop.test\r\n\r\n");
  f.runLoop();
  CHECK(f.codec.calls == std::vector<std::string>{"head 200", "end", "done"});
  CHECK(f.codec.head.no_body);
  CHECK(f.codec.head.content_length == 12);
  CHECK(f.codec.body.empty());
}

TEST_CASE("exchange: while the codec's output is full, the exchange pulls no more") {
  ExchangeFixture f(kStaticRoutes);
  std::string content = pattern(3 * kPiece + 1000);
  f.files.file("big.bin", content);
  f.codec.full_after_body = true;  // each piece fills the output until the client drains
  f.send(get("/big.bin"));

  size_t drains = 0;
  f.runLoop();  // runs dry: nothing is read past the piece that filled the output
  while (f.codec.writable == false) {
    CHECK(f.codec.pieces() == drains + 1);
    CHECK(f.codec.body == content.substr(0, f.codec.body.size()));
    CHECK(f.exchange->active());
    f.runLoop();  // nothing more comes without a drain
    REQUIRE(f.codec.pieces() == drains + 1);
    f.codec.writable = true;
    f.exchange->onClientDrained();
    ++drains;
    f.runLoop();
  }
  CHECK(drains == 4);  // after each of the four pieces (the last: then the end comes)
  checkOrder(f.codec.calls, "head 200");
  CHECK(f.codec.body == content);
  CHECK_FALSE(f.exchange->active());
}

TEST_CASE("exchange: a codec that sends the file itself gets its region; the exchange ends when "
          "it says it is sent") {
  ExchangeFixture f(kStaticRoutes);
  std::string content = pattern(5000);
  f.files.file("a.bin", content);
  f.codec.takes_files = true;
  f.send(get("/a.bin"));
  f.runLoop();
  CHECK(f.codec.calls == std::vector<std::string>{"head 200", "file 0+5000"});
  REQUIRE(f.codec.file);
  CHECK(f.codec.file->fd >= 0);
  CHECK(f.exchange->active());
  f.exchange->onFileSent(5000, true);
  CHECK(f.codec.calls == std::vector<std::string>{"head 200", "file 0+5000", "end", "done"});
  CHECK(f.record.bytes_out == 5000);
  CHECK_FALSE(f.exchange->active());
}

TEST_CASE("exchange: a codec that sends the whole file within the call ends the exchange at "
          "once") {
  ExchangeFixture f(kStaticRoutes);
  f.files.file("a.bin", pattern(5000));
  f.codec.takes_files = true;
  f.codec.sends_files_at_once = true;
  f.send(get("/a.bin"));
  f.runLoop();
  CHECK(f.codec.calls == std::vector<std::string>{"head 200", "file 0+5000", "end", "done"});
  CHECK(f.record.bytes_out == 5000);
  CHECK_FALSE(f.exchange->active());
}

TEST_CASE("exchange: a client that leaves while the file is looked up ends the exchange; "
          "the answer that comes later is dropped and its file closed") {
  int fds_before = openFds();
  {
    ExchangeFixture f(kStaticRoutes);
    f.files.file("big.bin", pattern(2 * kPiece));
    int fds_fixture = openFds();
    f.send(get("/big.bin"));
    f.clientLeaves();
    CHECK_FALSE(f.exchange->active());
    CHECK_FALSE(f.record.open);  // logged, as the client's 499
    CHECK(f.counted(1, 499) == 1);
    // The lookup ends with the file open while the exchange still lives (the session frees
    // it in a later loop turn): the answer is dropped, not written anywhere.
    f.runLoop();
    CHECK(f.codec.calls.empty());
    CHECK(openFds() == fds_fixture);
    CHECK(f.counted(1, 499) == 1);  // logged once
    f.exchange.reset();
  }
  CHECK(openFds() == fds_before);
}

TEST_CASE("exchange: a client that leaves mid-body ends the exchange; the read in flight writes "
          "nothing and frees the file") {
  ExchangeFixture f(kStaticRoutes);
  // Larger than the lookup reads ahead (smaller files are read on the loop, within the pull).
  std::string content = pattern(balancer::static_files::OpenFile::kReadAheadMax + kPiece);
  f.files.file("big.bin", content);
  int fds_fixture = openFds();
  f.send(get("/big.bin"));
  // The first piece is written and the next one asked for: a read is on the thread pool.
  REQUIRE(f.runUntil([&] { return f.codec.pieces() == 1; }));
  CHECK(f.exchange->localBodyPending());
  f.clientLeaves();
  CHECK_FALSE(f.exchange->active());
  CHECK_FALSE(f.record.open);
  CHECK(f.counted(1, 200) == 1);  // the status its head said, logged once
  f.exchange.reset();
  std::vector<std::string> before = f.codec.calls;
  f.runLoop();
  CHECK(f.codec.calls == before);  // no piece, no end, no done after the close
  CHECK(f.codec.body == content.substr(0, kPiece));
  CHECK(openFds() == fds_fixture);
}

TEST_CASE("exchange: a filter's own response (a CORS preflight) is sent without an upstream") {
  ExchangeFixture f(kStaticRoutes);
  f.send("OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://shop.test\r\n"
         "Access-Control-Request-Method: GET\r\n\r\n");
  // Answered at once, inside start(): the head and the end, no body for a 204.
  CHECK(f.codec.calls == std::vector<std::string>{"head 204", "end"});
  CHECK(f.codec.head.no_body);
  CHECK(f.codec.head_lines.find("Access-Control-Allow-Origin: https://shop.test\r\n") !=
        std::string::npos);
  CHECK(f.codec.head_lines.find("Access-Control-Allow-Methods: ") != std::string::npos);
  // The request was read whole: the session's part ends the exchange (finishLocal).
  CHECK(f.exchange->local());
  CHECK_FALSE(f.exchange->active());
  CHECK(f.record.status == 204);
  CHECK(f.counted(1, 204) == 1);
}

TEST_CASE("exchange: a filter's refusal (deny) is the balancer's JSON error, with the request id") {
  ExchangeFixture f(kStaticRoutes);
  f.files.file("denied/x.txt", "secret");
  f.send(get("/denied/x.txt"));
  CHECK(f.codec.calls.size() == 3);
  CHECK(f.codec.calls[0] == "head 403");
  CHECK(f.codec.calls[2] == "end");
  CHECK(f.codec.head_lines == "Content-Type: application/json\r\n");
  CHECK(f.codec.head.content_length == f.codec.body.size());
  std::string id(f.exchange->requestId());
  CHECK(id.size() == 32);
  CHECK(f.codec.body ==
        "{\"error\":\"forbidden: the client address is denied on this route\",\"request_id\":\"" +
            id + "\"}\n");
  CHECK_FALSE(f.exchange->active());
  CHECK(f.counted(0, 403) == 1);
  f.runLoop();  // no file was looked up: the static filter never ran
  CHECK(f.codec.calls.size() == 3);
}

TEST_CASE("exchange: no route is a 404 of the balancer's own") {
  ExchangeFixture f("  - match: { path_prefix: /only/ }\n    static: { root: ROOT }\n");
  f.send(get("/elsewhere"));
  CHECK(f.codec.calls.size() == 3);
  CHECK(f.codec.calls[0] == "head 404");
  CHECK(f.codec.body.find("\"error\":\"no route\"") != std::string::npos);
  CHECK(f.record.route == -1);
  CHECK(f.counted(-1, 404) == 1);
}
