// http::OutputQueue on a real loopback TCP connection.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "common/http/output_queue.h"

namespace {

struct NoListener final : http::OutputListener {
  void onOutputDrained() override {}
  void onOutputError(int) override {}
};

// A connected pair: `client` a plain blocking socket, `tcp` the accepted end on a uv loop.
struct Pair {
  Pair() {
    REQUIRE(uv_loop_init(&loop) == 0);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(listener, 1) == 0);
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
    REQUIRE(accepted >= 0);
    REQUIRE(uv_tcp_init(&loop, &tcp) == 0);
    REQUIRE(uv_tcp_open(&tcp, accepted) == 0);
    REQUIRE(uv_tcp_nodelay(&tcp, 1) == 0);
  }
  ~Pair() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    close(client);
  }
  // What the client can read within `ms`.
  std::string receive(int ms) {
    std::string out;
    pollfd p{client, POLLIN, 0};
    while (poll(&p, 1, ms) == 1) {
      char buf[256];
      ssize_t n = recv(client, buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<size_t>(n));
      ms = 20;
    }
    return out;
  }
  uv_loop_t loop;
  uv_tcp_t tcp;
  int client = -1;
};

}  // namespace

TEST_CASE("flush(more) holds a head for the bytes that follow, as one segment") {
  Pair pair;
  NoListener listener;
  http::OutputQueue out(reinterpret_cast<uv_stream_t*>(&pair.tcp), &listener);
  out.addCopy("HTTP/1.1 200 OK\r\n\r\n");
  REQUIRE(out.flush(/*more=*/true) == 0);
  CHECK(out.queuedBytes() == 0);
  CHECK(pair.receive(100).empty());  // held by the kernel (MSG_MORE), even with TCP_NODELAY
  uv_os_fd_t fd;
  REQUIRE(uv_fileno(reinterpret_cast<const uv_handle_t*>(&pair.tcp), &fd) == 0);
  REQUIRE(write(fd, "body", 4) == 4);  // sendfile's bytes, in the balancer
  CHECK(pair.receive(1000) == "HTTP/1.1 200 OK\r\n\r\nbody");

  out.addCopy("next");
  REQUIRE(out.flush() == 0);
  CHECK(pair.receive(1000) == "next");  // a plain flush goes at once
}
