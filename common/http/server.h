#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http/output_queue.h"
#include "common/http/parser.h"
#include "common/util/address.h"
#include "common/util/units.h"

namespace http {

class Server;
class ServerConnection;

// A request whose body has been read whole (up to the parser's max_body_size). Valid until
// its response is sent.
struct Request {
  llhttp_method_t method = HTTP_GET;
  std::string_view method_name;
  std::string_view target;  // as sent: path and query
  std::string_view path;
  std::string_view query;  // without the '?'
  const HeaderList* headers = nullptr;
  std::string body;
  std::string_view client_ip;
  // Upgrade with Connection: upgrade (or CONNECT): the handler may take the connection over
  // with Responder::upgrade. If it answers with send() instead, the connection closes after.
  bool upgrade = false;

  std::string_view header(std::string_view name) const { return headers->find(name); }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // close the connection after this response

  static Response json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

// Told when the Server that accepted an upgraded connection closes, so that the connection's
// owner can say goodbye in its own protocol (WebSocket's close 1001) and close the socket.
class ServerCloseListener {
 public:
  virtual void onServerClose() = 0;

 protected:
  ~ServerCloseListener() = default;
};

// A connection taken over from an http::Server after the answer to an upgrade request: the
// socket, and what the client sent after the request head (the new protocol's first bytes).
// Move-only; closes the socket when destroyed unless released. An empty one (false) says the
// client left before the hand-over.
class UpgradedStream {
 public:
  UpgradedStream() = default;
  UpgradedStream(UpgradedStream&& other) noexcept;
  UpgradedStream& operator=(UpgradedStream&& other) noexcept;
  UpgradedStream(const UpgradedStream&) = delete;
  UpgradedStream& operator=(const UpgradedStream&) = delete;
  ~UpgradedStream();

  explicit operator bool() const { return tcp_ != nullptr; }
  // Not reading, TCP_NODELAY set; its `data` is free for the new owner.
  uv_tcp_t* tcp() const { return tcp_; }
  std::string& buffered() { return buffered_; }
  // Takes the socket: the caller closes it with uv_close and deletes it (`delete`, it was made
  // with `new`) in the close callback.
  uv_tcp_t* release();
  // Asks the Server to tell `listener` when it closes (at once if it is already closing).
  // Server::close() does not close upgraded sockets itself: their owner does, told this way.
  // Call before the takeover callback returns: the stream does not know when the Server goes.
  void watchServerClose(std::weak_ptr<ServerCloseListener> listener);

 private:
  friend class ServerConnection;
  UpgradedStream(uv_tcp_t* tcp, std::string buffered, Server* server)
      : tcp_(tcp), buffered_(std::move(buffered)), server_(server) {}
  void reset();

  uv_tcp_t* tcp_ = nullptr;
  std::string buffered_;
  Server* server_ = nullptr;
};

using Takeover = std::function<void(UpgradedStream)>;

// The way back to one request's client. Answer exactly once, now or later on the same loop
// (after work on the thread pool, say); the connection reads its next request only then, so
// pipelined requests are answered in order. Answering after the client left does nothing.
class Responder {
 public:
  Responder() = default;
  void send(Response response);
  // For a request with `upgrade` set: writes `response` (101 and its headers; no body is sent)
  // and hands the socket over. `takeover` is called exactly once: with the stream once the
  // response has gone to the kernel, or with an empty stream if the client left first or the
  // request was no upgrade (then answered 500). It may be called before upgrade() returns.
  // From then on the Server neither reads, writes nor closes the socket.
  void upgrade(Response response, Takeover takeover);

 private:
  friend class ServerConnection;
  Responder(std::weak_ptr<ServerConnection> conn, uint64_t exchange)
      : conn_(std::move(conn)), exchange_(exchange) {}
  std::weak_ptr<ServerConnection> conn_;
  uint64_t exchange_ = 0;
};

using Handler = std::function<void(const Request&, Responder)>;

struct ServerOptions {
  ParserLimits limits;
  util::Millis header_timeout{10000};
  util::Millis idle_timeout{60000};
  // Told when a request handed to the handler is done: with the status answered (101 for an
  // upgrade) or 499 when the client left first. For metrics; `request` is still valid.
  std::function<void(const Request& request, int status)> on_response;
};

// An HTTP/1.1 server on one libuv loop for handlers that take whole requests and give whole
// responses: the services and the admin API. A handler may also take over an upgrade request's
// connection (Responder::upgrade), as common/ws does for WebSocket. Keep-alive, pipelining, chunked
// and content-length bodies, the parser's limits (400, 413, 431 as JSON), header and idle timeouts.
// The balancer's proxy path streams instead and has its own session type.
class Server {
 public:
  Server(uv_loop_t* loop, Handler handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Returns 0 or a libuv error. With port 0, port() tells the one chosen.
  int listen(const util::SocketAddress& address);
  int port() const { return port_; }
  // Stops accepting and closes idle connections; busy ones close after their response.
  // Upgraded connections are their owners' to close: those that asked
  // (UpgradedStream::watchServerClose) are told now.
  void close();

 private:
  friend class ServerConnection;
  friend class UpgradedStream;
  static void onConnection(uv_stream_t* server, int status);
  void watchUpgraded(std::weak_ptr<ServerCloseListener> listener);

  uv_loop_t* loop_;
  Handler handler_;
  ServerOptions options_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  int port_ = 0;
  bool closing_ = false;
  std::vector<std::weak_ptr<ServerConnection>> connections_;
  std::vector<std::weak_ptr<ServerCloseListener>> upgraded_;
};

}  // namespace http
