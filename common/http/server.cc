#include "common/http/server.h"

#include "common/http/server_connection.h"
#include "common/log/log.h"

namespace http {

void Responder::send(Response response) {
  if (auto conn = conn_.lock()) {
    conn->send(exchange_, std::move(response));
  }
  conn_.reset();
}

Server::Server(uv_loop_t* loop, Handler handler, ServerOptions options)
    : loop_(loop), handler_(std::move(handler)), options_(options) {}

Server::~Server() { close(); }

int Server::listen(const util::SocketAddress& address) {
  listener_ = new uv_tcp_t;
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
  int r = uv_tcp_bind(listener_, address.get(), 0);
  if (r == 0) {
    r = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 1024, &Server::onConnection);
  }
  if (r != 0) {
    close();
    return r;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  util::SocketAddress actual;
  actual.storage = bound;
  port_ = actual.port();
  return 0;
}

void Server::close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    listener_ = nullptr;
  }
  for (auto& weak : connections_) {
    if (auto conn = weak.lock()) {
      conn->drain();
    }
  }
  connections_.clear();
}

void Server::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0 || self->closing_) {
    return;
  }
  auto conn = std::make_shared<ServerConnection>(self, self->loop_);
  if (conn->start(listener) != 0) {
    return;
  }
  // Forget connections that have gone, now and then, so the list stays the size of the live.
  if (self->connections_.size() >= 64 && (self->connections_.size() & 63) == 0) {
    std::erase_if(self->connections_, [](const auto& w) { return w.expired(); });
  }
  self->connections_.push_back(conn);
}

}  // namespace http
