// http::Server on a real loopback socket, its loop in a thread, driven by a blocking client.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <string>
#include <thread>

#include "common/http/server.h"

namespace {

struct Delayed {
  uv_timer_t timer;
  http::Responder responder;
  std::string body;
};

// A server with /echo, /slow (answers from a timer), /size (the body's length).
class TestServer {
 public:
  TestServer() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_, [](uv_async_t* a) {
      auto* self = static_cast<TestServer*>(a->data);
      self->server_->close();
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
    stop_.data = this;
    http::ServerOptions options;
    options.limits.max_body_size = 1024;
    options.limits.max_header_bytes = 512;
    server_ = std::make_unique<http::Server>(
        &loop_, [this](const http::Request& r, http::Responder res) { handle(r, res); },
        options);
    std::string error;
    REQUIRE(server_->listen(*util::parseSocketAddress("127.0.0.1:0", &error)) == 0);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~TestServer() {
    uv_async_send(&stop_);
    thread_.join();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle closed: nothing leaked.
    CHECK(uv_loop_close(&loop_) == 0);
  }
  int port() const { return server_->port(); }

 private:
  void handle(const http::Request& req, http::Responder responder) {
    if (req.path == "/slow") {
      auto* d = new Delayed{{}, std::move(responder), "slow"};
      uv_timer_init(&loop_, &d->timer);
      d->timer.data = d;
      uv_timer_start(
          &d->timer,
          [](uv_timer_t* t) {
            auto* dd = static_cast<Delayed*>(t->data);
            dd->responder.send(http::Response::json(200, dd->body));
            uv_close(reinterpret_cast<uv_handle_t*>(t),
                     [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
          },
          100, 0);
      return;
    }
    if (req.path == "/size") {
      responder.send(http::Response::json(200, std::to_string(req.body.size())));
      return;
    }
    responder.send(http::Response::json(200, std::string(req.method_name) + " " +
                                                 std::string(req.target) + " " + req.body));
  }

  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

// Sends `request` and reads until the server closes (or 10 s pass: a generous bound that only
// ends a test whose server never closes).
std::string exchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("pipelined requests are answered in order, a slow one holding the next") {
  TestServer server;
  std::string out = exchange(server.port(),
                             "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                             "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                             "Connection: close\r\n\r\nxyz");
  size_t slow = out.find("slow");
  size_t a = out.find("GET /a?b=1 ");
  size_t c = out.find("POST /c xyz");
  REQUIRE(slow != std::string::npos);
  REQUIRE(a != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(slow < a);
  CHECK(a < c);
  CHECK(count(out, "HTTP/1.1 200 OK") == 3);
  CHECK(count(out, "Connection: close") == 1);
}

TEST_CASE("chunked request bodies are read whole") {
  TestServer server;
  std::string out = exchange(server.port(),
                             "POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "Connection: close\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
  CHECK(out.find("Content-Length: 1\r\n") != std::string::npos);
  CHECK(out.substr(out.size() - 1) == "7");
}

TEST_CASE("limits and malformed requests get their status as JSON and a close") {
  TestServer server;
  std::string bad = exchange(server.port(), "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  CHECK(bad.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(bad.find("\"error\":\"malformed request\"") != std::string::npos);
  std::string big_body = exchange(server.port(),
                                  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  CHECK(big_body.rfind("HTTP/1.1 413 ", 0) == 0);
  std::string big_head =
      exchange(server.port(), "GET / HTTP/1.1\r\nX: " + std::string(600, 'a') + "\r\n\r\n");
  CHECK(big_head.rfind("HTTP/1.1 431 ", 0) == 0);
}

TEST_CASE("HEAD gets the headers without the body; HTTP/1.0 closes by default") {
  TestServer server;
  std::string head = exchange(server.port(), "HEAD /x HTTP/1.0\r\n\r\n");
  CHECK(head.rfind("HTTP/1.1 200 ", 0) == 0);
  CHECK(head.find("Content-Length: 8\r\n") != std::string::npos);  // "HEAD /x "
  CHECK(head.find("Connection: close") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
}
