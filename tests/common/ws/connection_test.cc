// ws::accept and ws::Connection behind a real http::Server on loopback: the server's loop runs
// in a thread, a blocking raw-TCP client plays the browser.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/server.h"
#include "common/ws/frame.h"
#include "common/ws/handshake.h"

namespace {

using ws::Opcode;

constexpr const char* kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
const ws::MaskKey kMask{0x12, 0x34, 0x56, 0x78};
constexpr int kFastPingMs = 100;
constexpr int kFastPongTimeoutMs = 100;
constexpr int kPatientPongTimeoutMs = 2000;

struct Closed {
  uint16_t code;
  std::string reason;
};

// An http::Server whose /ws echoes messages (and obeys "close-me" and "ping-me"), /ws-fast the
// same with a 100 ms keep-alive, anything else a plain 200.
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
    server_ = std::make_unique<http::Server>(
        &loop_, [this](const http::Request& r, http::Responder res) { handle(r, res); });
    std::string error;
    REQUIRE(server_->listen(*util::parseSocketAddress("127.0.0.1:0", &error)) == 0);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~TestServer() {
    stop();
    thread_.join();
    server_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle closed, the WebSocket ones included: nothing leaked.
    CHECK(uv_loop_close(&loop_) == 0);
  }
  int port() const { return server_->port(); }
  // Closes the http::Server (its WebSocket connections are told to go away).
  void stop() {
    if (!stopped_) {
      stopped_ = true;
      uv_async_send(&stop_);
    }
  }
  // Waits up to 10 s for the n-th on_close (a generous bound: a busy machine is slow).
  bool waitClosed(size_t n, Closed* out) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_.size() >= n) {
          *out = closed_[n - 1];
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  void handle(const http::Request& req, http::Responder responder) {
    if (req.path != "/ws" && req.path != "/ws-fast" && req.path != "/ws-keepalive") {
      responder.send(http::Response::json(200, "plain"));
      return;
    }
    ws::Options options;
    options.max_message_size = 1024;
    // Far beyond what a busy machine needs to answer: no test waits for it to run out.
    options.close_timeout = std::chrono::milliseconds(10000);
    if (req.path == "/ws-fast") {
      // Only for a client that never answers: it is dropped soon.
      options.ping_interval = std::chrono::milliseconds(kFastPingMs);
      options.pong_timeout = std::chrono::milliseconds(kFastPongTimeoutMs);
    } else if (req.path == "/ws-keepalive") {
      // For a client that answers: time enough to answer on a busy machine.
      options.ping_interval = std::chrono::milliseconds(kFastPingMs);
      options.pong_timeout = std::chrono::milliseconds(kPatientPongTimeoutMs);
    }
    auto slot = std::make_shared<std::weak_ptr<ws::Connection>>();
    ws::Handlers handlers;
    handlers.on_message = [slot](Opcode opcode, std::string_view payload) {
      auto conn = slot->lock();
      REQUIRE(conn);
      if (payload == "close-me") {
        conn->close(4000, "bye");
      } else if (payload == "ping-me") {
        conn->ping("are you there");
      } else if (opcode == Opcode::kText) {
        conn->sendText(payload);
      } else {
        conn->sendBinary(payload);
      }
    };
    handlers.on_close = [this](uint16_t code, std::string_view reason) {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_.push_back({code, std::string(reason)});
    };
    auto conn = ws::accept(req, std::move(responder), options, std::move(handlers));
    if (conn) {
      CHECK(conn->isOpen());
      CHECK(conn->clientIp() == "127.0.0.1");
      *slot = conn;
    }
  }

  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  bool stopped_ = false;
  std::mutex mutex_;
  std::vector<Closed> closed_;
};

struct Frame {
  ws::FrameHeader header;
  std::string payload;
  uint16_t closeCode() const {
    uint16_t code = 0;
    std::string_view reason;
    ws::parseClosePayload(payload, &code, &reason);
    return code;
  }
};

// A blocking client; every read gives up after 10 s (the events it waits for come much
// sooner; the bound only ends a test whose event never comes).
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { close(); }
  // As a browser does on the server's FIN: the server's linger then ends at once.
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  void send(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }
  void sendFrame(Opcode opcode, std::string_view payload, bool fin = true) {
    send(ws::encodeFrame(opcode, payload, fin, &kMask));
  }
  static std::string request(const std::string& path = "/ws", const std::string& extra = "") {
    return "GET " + path +
           " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " +
           kRfcKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n";
  }
  // Reads one HTTP response head; what follows stays buffered.
  std::string readHead() {
    size_t end;
    while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return std::exchange(buffered_, {});
      }
    }
    std::string head = buffered_.substr(0, end + 4);
    buffered_.erase(0, end + 4);
    return head;
  }
  std::string handshake(const std::string& path = "/ws") {
    send(request(path));
    return readHead();
  }
  // Everything until the server closes (or 10 s pass).
  std::string readAll() {
    while (fill()) {
    }
    return std::exchange(buffered_, {});
  }
  bool readFrame(Frame* frame) {
    ws::FrameStatus status;
    while ((status = ws::parseFrameHeader(buffered_, &frame->header)) ==
           ws::FrameStatus::kIncomplete) {
      if (!fill()) {
        return false;
      }
    }
    REQUIRE(status == ws::FrameStatus::kOk);
    size_t total = frame->header.header_length + frame->header.payload_length;
    while (buffered_.size() < total) {
      if (!fill()) {
        return false;
      }
    }
    frame->payload = buffered_.substr(frame->header.header_length, frame->header.payload_length);
    buffered_.erase(0, total);
    return true;
  }
  // True when the server closed the TCP connection with nothing more to read.
  bool atEof() { return buffered_.empty() && !fill() && eof_; }

 private:
  bool fill() {
    char buf[8192];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = n == 0;
      return false;
    }
    buffered_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buffered_;
  bool eof_ = false;
};

}  // namespace

TEST_CASE("the handshake answers 101 with RFC 6455's accept value; text is echoed") {
  TestServer server;
  Client client(server.port());
  std::string head = client.handshake();
  CHECK(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(head.find("Upgrade: websocket\r\n") != std::string::npos);
  CHECK(head.find("Content-Length") == std::string::npos);

  client.sendFrame(Opcode::kText, "hello \xc3\xa9");
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kText);
  CHECK(f.header.fin);
  CHECK_FALSE(f.header.masked);
  CHECK(f.payload == "hello \xc3\xa9");

  std::string big(1000, 'b');  // 16-bit length both ways
  client.sendFrame(Opcode::kBinary, big);
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kBinary);
  CHECK(f.payload == big);
}

TEST_CASE("a frame sent with the handshake request is read too") {
  TestServer server;
  Client client(server.port());
  client.send(Client::request() + ws::encodeFrame(Opcode::kText, "early", true, &kMask));
  CHECK(client.readHead().rfind("HTTP/1.1 101 ", 0) == 0);
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.payload == "early");
}

TEST_CASE("fragments are reassembled, a ping between them answered first") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
  client.sendFrame(Opcode::kText, "Hel", false);
  client.sendFrame(Opcode::kPing, "mid");
  client.sendFrame(Opcode::kContinuation, "lo", false);
  client.sendFrame(Opcode::kContinuation, " world", true);
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kPong);
  CHECK(f.payload == "mid");
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kText);
  CHECK(f.payload == "Hello world");
}

TEST_CASE("ping gets pong with the same payload; the server can ping too") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
  client.sendFrame(Opcode::kPing, "12345");
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kPong);
  CHECK(f.payload == "12345");
  client.sendFrame(Opcode::kText, "ping-me");
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kPing);
  CHECK(f.payload == "are you there");
}

TEST_CASE("protocol errors close with their code") {
  TestServer server;
  struct Case {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  std::string fragment_then_new = ws::encodeFrame(Opcode::kText, "a", false, &kMask) +
                                  ws::encodeFrame(Opcode::kText, "b", true, &kMask);
  std::vector<Case> cases = {
      {"unmasked", ws::encodeFrame(Opcode::kText, "hi"), ws::kCloseProtocolError},
      {"reserved bit", std::string("\xc1\x80\0\0\0\0", 6), ws::kCloseProtocolError},
      {"reserved opcode", std::string("\x83\x80\0\0\0\0", 6), ws::kCloseProtocolError},
      {"lone continuation", ws::encodeFrame(Opcode::kContinuation, "x", true, &kMask),
       ws::kCloseProtocolError},
      {"new message inside a fragmented one", fragment_then_new, ws::kCloseProtocolError},
      {"bad UTF-8", ws::encodeFrame(Opcode::kText, "\xc0\xaf", true, &kMask),
       ws::kCloseInvalidPayload},
      {"too big", ws::encodeFrame(Opcode::kBinary, std::string(1025, 'x'), true, &kMask),
       ws::kCloseMessageTooBig},
      {"too big once reassembled",
       ws::encodeFrame(Opcode::kBinary, std::string(600, 'x'), false, &kMask) +
           ws::encodeFrame(Opcode::kContinuation, std::string(600, 'x'), true, &kMask),
       ws::kCloseMessageTooBig},
  };
  size_t n = 0;
  for (const Case& c : cases) {
    INFO(c.name);
    Client client(server.port());
    REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
    client.send(c.bytes);
    Frame f;
    REQUIRE(client.readFrame(&f));
    CHECK(f.header.opcode == Opcode::kClose);
    CHECK(f.closeCode() == c.code);
    CHECK(client.atEof());  // the server closes without waiting for our close frame
    client.close();
    Closed closed;
    REQUIRE(server.waitClosed(++n, &closed));
    CHECK(closed.code == c.code);
  }
}

TEST_CASE("close handshake started by the client: echoed, then the server closes TCP") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
  client.sendFrame(Opcode::kClose, ws::encodeClosePayload(1000, "done"));
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kClose);
  CHECK(f.closeCode() == 1000);
  CHECK(client.atEof());
  client.close();
  Closed closed;
  REQUIRE(server.waitClosed(1, &closed));
  CHECK(closed.code == 1000);
  CHECK(closed.reason == "done");
}

TEST_CASE("close handshake started by the server waits for the client's close frame") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
  client.sendFrame(Opcode::kText, "close-me");
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kClose);
  CHECK(f.closeCode() == 4000);
  client.sendFrame(Opcode::kText, "ignored after the server's close");
  client.sendFrame(Opcode::kClose, ws::encodeClosePayload(4000, ""));
  CHECK(client.atEof());
  client.close();
  Closed closed;
  REQUIRE(server.waitClosed(1, &closed));
  CHECK(closed.code == 4000);
}

TEST_CASE("closing the http::Server says going away to its WebSocket clients") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake().rfind("HTTP/1.1 101 ", 0) == 0);
  server.stop();
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kClose);
  CHECK(f.closeCode() == ws::kCloseGoingAway);
  client.sendFrame(Opcode::kClose, ws::encodeClosePayload(ws::kCloseGoingAway, ""));
  CHECK(client.atEof());
}

TEST_CASE("a client that never answers the keep-alive ping is dropped") {
  TestServer server;
  Client client(server.port());
  auto begin = std::chrono::steady_clock::now();
  REQUIRE(client.handshake("/ws-fast").rfind("HTTP/1.1 101 ", 0) == 0);
  Frame f;
  REQUIRE(client.readFrame(&f));
  CHECK(f.header.opcode == Opcode::kPing);
  CHECK(client.atEof());  // within the client's 10 s read bound
  // Dropped by the pong timeout, not before: the ping interval and the pong timeout both ran
  // out (a busy machine only makes it later; 10 ms for the loop's millisecond clock).
  CHECK(std::chrono::steady_clock::now() - begin >=
        std::chrono::milliseconds(kFastPingMs + kFastPongTimeoutMs - 10));
  Closed closed;
  REQUIRE(server.waitClosed(1, &closed));
  CHECK(closed.code == ws::kCloseAbnormal);
}

TEST_CASE("a client that answers the keep-alive ping stays") {
  TestServer server;
  Client client(server.port());
  REQUIRE(client.handshake("/ws-keepalive").rfind("HTTP/1.1 101 ", 0) == 0);
  // The next ping comes only once the pong timeout has run out with the pong heard: a second
  // ping shows that answering the first kept the connection.
  for (int i = 0; i < 2; ++i) {
    Frame f;
    REQUIRE(client.readFrame(&f));
    REQUIRE(f.header.opcode == Opcode::kPing);
    client.sendFrame(Opcode::kPong, f.payload);
  }
  client.sendFrame(Opcode::kText, "still here");
  Frame f;
  REQUIRE(client.readFrame(&f));
  if (f.header.opcode == Opcode::kPing) {
    REQUIRE(client.readFrame(&f));
  }
  CHECK(f.payload == "still here");
}

TEST_CASE("bad handshakes are refused: 400, or 426 for another version") {
  TestServer server;
  auto answer = [&server](const std::string& request) {
    Client client(server.port());
    client.send(request);
    return client.readAll();
  };
  std::string no_key = answer(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  CHECK(no_key.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(no_key.find("Connection: close") != std::string::npos);
  std::string bad_key = answer(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK(bad_key.rfind("HTTP/1.1 400 ", 0) == 0);
  std::string version = answer(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  CHECK(version.rfind("HTTP/1.1 426 ", 0) == 0);
  CHECK(version.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
  std::string not_upgrade = answer("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(not_upgrade.rfind("HTTP/1.1 400 ", 0) == 0);
  std::string post = answer(
      "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Content-Length: 0\r\n\r\n");
  CHECK(post.rfind("HTTP/1.1 400 ", 0) == 0);
}

TEST_CASE("an upgrade request the handler answers normally closes after the answer") {
  TestServer server;
  Client client(server.port());
  // Bytes after the head belong to the refused protocol and must not be read as a request.
  client.send(
      "GET /plain HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n"
      "GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = client.readAll();
  CHECK(out.rfind("HTTP/1.1 200 ", 0) == 0);
  CHECK(out.find("Connection: close") != std::string::npos);
  CHECK(out.find("HTTP/1.1", 1) == std::string::npos);
}
