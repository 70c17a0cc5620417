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

void Responder::upgrade(Response response, Takeover takeover) {
  auto conn = conn_.lock();
  conn_.reset();
  if (!conn) {
    takeover(UpgradedStream());
    return;
  }
  conn->upgrade(exchange_, std::move(response), std::move(takeover));
}

UpgradedStream::UpgradedStream(UpgradedStream&& other) noexcept
    : tcp_(std::exchange(other.tcp_, nullptr)),
      buffered_(std::move(other.buffered_)),
      server_(std::exchange(other.server_, nullptr)) {}

UpgradedStream& UpgradedStream::operator=(UpgradedStream&& other) noexcept {
  if (this != &other) {
    reset();
    tcp_ = std::exchange(other.tcp_, nullptr);
    buffered_ = std::move(other.buffered_);
    server_ = std::exchange(other.server_, nullptr);
  }
  return *this;
}

UpgradedStream::~UpgradedStream() { reset(); }

void UpgradedStream::reset() {
  if (tcp_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    tcp_ = nullptr;
  }
}

uv_tcp_t* UpgradedStream::release() { return std::exchange(tcp_, nullptr); }

void UpgradedStream::watchServerClose(std::weak_ptr<ServerCloseListener> listener) {
  if (server_ != nullptr) {
    server_->watchUpgraded(std::move(listener));
  }
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
  // Moved out first: a listener may close its connection, and so end, from within the call.
  std::vector<std::weak_ptr<ServerCloseListener>> upgraded;
  upgraded.swap(upgraded_);
  for (auto& weak : upgraded) {
    if (auto listener = weak.lock()) {
      listener->onServerClose();
    }
  }
}

void Server::watchUpgraded(std::weak_ptr<ServerCloseListener> listener) {
  if (closing_) {
    if (auto l = listener.lock()) {
      l->onServerClose();
    }
    return;
  }
  if (upgraded_.size() >= 64 && (upgraded_.size() & 63) == 0) {
    std::erase_if(upgraded_, [](const auto& w) { return w.expired(); });
  }
  upgraded_.push_back(std::move(listener));
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
