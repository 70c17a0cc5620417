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

// The way back to one request's client. Answer exactly once, now or later on the same loop
// (after work on the thread pool, say); the connection reads its next request only then, so
// pipelined requests are answered in order. Answering after the client left does nothing.
class Responder {
 public:
  Responder() = default;
  void send(Response response);

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
};

// An HTTP/1.1 server on one libuv loop for handlers that take whole requests and give whole
// responses: the services and the admin API. Keep-alive, pipelining, chunked and
// content-length bodies, the parser's limits (400, 413, 431 as JSON), header and idle
// timeouts. The balancer's proxy path streams instead and has its own session type.
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
  void close();

 private:
  friend class ServerConnection;
  static void onConnection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  Handler handler_;
  ServerOptions options_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  int port_ = 0;
  bool closing_ = false;
  std::vector<std::weak_ptr<ServerConnection>> connections_;
};

}  // namespace http
