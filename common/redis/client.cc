#include "common/redis/client.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>

#include "common/log/log.h"
#include "common/redis/hiredis_uv.h"

namespace redis {

namespace {
void deleteTimer(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }
void deleteCheck(uv_handle_t* handle) { delete reinterpret_cast<uv_check_t*>(handle); }
}  // namespace

// A command's callback travels as hiredis's privdata; freed after it runs.
struct Client::Pending {
  Client* client;
  Callback cb;
};

Client::Client(uv_loop_t* loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      timer_(new uv_timer_t),
      deferred_check_(new uv_check_t),
      backoff_ms_(options_.backoff_min_ms),
      random_state_((uv_hrtime() ^ reinterpret_cast<uintptr_t>(this)) | 1) {
  if (options_.connect_timeout_ms == 0) {
    options_.connect_timeout_ms = options_.command_timeout_ms;
  }
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_check_init(loop_, deferred_check_);
  deferred_check_->data = this;
  connect();
}

Client::~Client() { close(); }

void Client::connect() {
  state_ = State::kConnecting;
  connect_started_ms_ = uv_now(loop_);
  in6_addr ip{};
  if (inet_pton(AF_INET, options_.host.c_str(), &ip) == 1 ||
      inet_pton(AF_INET6, options_.host.c_str(), &ip) == 1) {
    connectTo(options_.host.c_str());
    return;
  }
  // A host name (a Kubernetes Service): hiredis would resolve it blocking the loop, so it is
  // looked up on the thread pool first, again before every reconnect (a moved server is
  // found). The connect timeout starts counting once there is an address to connect to.
  auto* req = new uv_getaddrinfo_t;
  req->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, req, onResolved, options_.host.c_str(), nullptr, &hints);
  if (rc != 0) {
    delete req;
    lost(uv_strerror(rc));
    return;
  }
  resolving_ = req;
}

void Client::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  auto* self = static_cast<Client*>(req->data);  // null: closed while looking up
  // The first IPv4 address if there is one ("localhost" lists ::1 first, and a server bound
  // to 127.0.0.1 is the usual case), else the first.
  const addrinfo* chosen = status == 0 ? result : nullptr;
  for (const addrinfo* a = chosen; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  }
  char ip[INET6_ADDRSTRLEN] = "";
  if (chosen != nullptr && chosen->ai_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(chosen->ai_addr), ip, sizeof ip);
  } else if (chosen != nullptr && chosen->ai_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr), ip, sizeof ip);
  }
  uv_freeaddrinfo(result);
  delete req;
  if (self == nullptr) {
    return;
  }
  self->resolving_ = nullptr;
  if (ip[0] == '\0') {
    std::string why = "cannot resolve " + self->options_.host + ": " +
                      (status != 0 ? uv_strerror(status) : "no address");
    self->lost(why.c_str());
    return;
  }
  self->connect_started_ms_ = uv_now(self->loop_);
  self->connectTo(ip);
}

// Non-blocking: the handshake completes on the loop.
void Client::connectTo(const char* ip) {
  redisAsyncContext* ctx = redisAsyncConnect(ip, options_.port);
  if (ctx == nullptr || ctx->err != 0) {
    std::string why = ctx != nullptr ? ctx->errstr : "out of memory";
    if (ctx != nullptr) {
      redisAsyncFree(ctx);
    }
    lost(why.c_str());
    return;
  }
  if (!attachToLoop(ctx, loop_)) {
    redisAsyncFree(ctx);
    lost("cannot watch the socket");
    return;
  }
  ctx->data = this;
  redisAsyncSetConnectCallback(ctx, onConnect);
  redisAsyncSetDisconnectCallback(ctx, onDisconnect);
  ctx_ = ctx;
  arm();
}

void Client::onConnect(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<Client*>(ctx->data);
  if (self == nullptr) {
    return;
  }
  if (status != REDIS_OK) {
    self->ctx_ = nullptr;  // hiredis frees it after this callback
    self->lost(ctx->errstr);
    return;
  }
  self->state_ = State::kConnected;
  self->awaiting_ = 0;
  if (self->options_.password.empty()) {
    self->connectionUsable();
  }  // else once AUTH is accepted: a refused one keeps the backoff growing
  self->arm();  // nothing to watch until a command is sent
  if (!self->options_.password.empty()) {
    self->authenticate();  // pipelined ahead of everything else on this connection
  }
  if (self->on_connected_) {
    self->on_connected_();
  }
}

// The connection answers: the outage (if any) is over.
void Client::connectionUsable() {
  if (failures_ > 0) {
    LOG_INFO("redis%s%s: connected to %s:%d", options_.name.empty() ? "" : " ",
             options_.name.c_str(), options_.host.c_str(), options_.port);
  }
  failures_ = 0;
  backoff_ms_ = options_.backoff_min_ms;
}

void Client::authenticate() {
  auto refused = [this](const redisReply* reply) {
    if (reply == nullptr || ctx_ == nullptr) {
      return;  // the connection went first
    }
    if (reply->type != REDIS_REPLY_ERROR) {
      connectionUsable();
      return;
    }
    // A connection that refuses every command is no connection: connected() goes false
    // (limits apply their on_unavailable) and the client reconnects with its backoff.
    if (failures_ == 0) {  // once per outage, not at every reconnect
      LOG_ERROR("redis%s%s: AUTH refused: %s", options_.name.empty() ? "" : " ",
                options_.name.c_str(), reply->str);
    }
    redisAsyncDisconnect(ctx_);  // safe inside a reply callback: after it returns
  };
  if (options_.username.empty()) {
    command({"AUTH", options_.password}, refused);
  } else {
    command({"AUTH", options_.username, options_.password}, refused);
  }
}

void Client::onDisconnect(const redisAsyncContext* ctx, int /*status*/) {
  auto* self = static_cast<Client*>(ctx->data);
  if (self == nullptr) {
    return;
  }
  self->ctx_ = nullptr;  // hiredis frees it after this callback
  self->lost(ctx->errstr[0] != '\0' ? ctx->errstr : "connection closed");
}

// The connection is gone; hiredis answers its pending commands with nullptr. Schedules the
// next attempt.
void Client::lost(const char* why) {
  if (state_ == State::kClosed) {
    return;
  }
  if (failures_ == 0) {  // the outage begins (a usable connection resets the count)
    LOG_WARN("redis%s%s: %s:%d unavailable (%s); reconnecting", options_.name.empty() ? "" : " ",
             options_.name.c_str(), options_.host.c_str(), options_.port, why);
  }
  ++failures_;
  ++connection_failures_;
  state_ = State::kDisconnected;
  ctx_ = nullptr;
  awaiting_ = 0;
  reconnect_at_ms_ = uv_now(loop_) + nextBackoff();
  arm();
}

// Drops a connection that does not progress. Called from the timer, never from inside a
// hiredis callback, so the context is freed at once (its pending callbacks run with nullptr).
void Client::drop(const char* why) {
  redisAsyncContext* ctx = ctx_;
  ctx_ = nullptr;
  ctx->data = nullptr;
  lost(why);
  redisAsyncFree(ctx);
}

// The delay before the next connection attempt: doubles from backoff_min_ms up to
// backoff_max_ms, with backoff_jitter drawn from [d/2, d].
uint64_t Client::nextBackoff() {
  uint64_t delay = std::max<uint64_t>(backoff_ms_, 1);
  backoff_ms_ = std::min(delay * 2, std::max(options_.backoff_max_ms, options_.backoff_min_ms));
  if (!options_.backoff_jitter) {
    return delay;
  }
  random_state_ ^= random_state_ << 13;  // xorshift64: cheap, and no shared state to lock
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  return delay / 2 + random_state_ % (delay - delay / 2 + 1);
}

void Client::onTimer(uv_timer_t* timer) { static_cast<Client*>(timer->data)->handleTimer(); }

// One timer serves the next reconnect, a connect's timeout and a stalled connection. It is
// not moved on every reply: when it fires early (progress since), arm() sets it again.
void Client::handleTimer() {
  uint64_t now = uv_now(loop_);
  switch (state_) {
    case State::kDisconnected:
      if (now >= reconnect_at_ms_) {
        connect();
      }
      break;
    case State::kConnecting:
      if (now - connect_started_ms_ >= options_.connect_timeout_ms && ctx_ != nullptr) {
        drop("connect timed out");
      }
      break;
    case State::kConnected:
      if (awaiting_ > 0 && now - last_progress_ms_ >= options_.command_timeout_ms) {
        drop("no answer within the command timeout");
      }
      break;
    case State::kClosed:
      return;
  }
  arm();
}

// Sets the timer to the next deadline of the current state, or stops it when there is none.
void Client::arm() {
  uint64_t at = 0;
  switch (state_) {
    case State::kDisconnected:
      at = reconnect_at_ms_;
      break;
    case State::kConnecting:
      if (resolving_ != nullptr) {
        uv_timer_stop(timer_);  // the resolver's own timeouts bound a lookup
        return;
      }
      at = connect_started_ms_ + options_.connect_timeout_ms;
      break;
    case State::kConnected:
      if (awaiting_ == 0) {
        uv_timer_stop(timer_);
        return;
      }
      at = last_progress_ms_ + options_.command_timeout_ms;
      break;
    case State::kClosed:
      return;
  }
  uint64_t now = uv_now(loop_);
  uv_timer_start(timer_, onTimer, at > now ? at - now : 0, 0);
}

void Client::command(const std::vector<std::string>& argv, Callback cb) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  command(args.data(), lengths.data(), args.size(), std::move(cb));
}

void Client::command(std::initializer_list<std::string_view> argv, Callback cb) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (std::string_view a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  command(args.data(), lengths.data(), args.size(), std::move(cb));
}

void Client::command(const char* const* argv, const size_t* lengths, size_t argc, Callback cb) {
  if (state_ != State::kConnected || ctx_ == nullptr) {
    failLater(std::move(cb));
    return;
  }
  auto* pending = new Pending{this, std::move(cb)};
  // hiredis only reads the arguments (copies them into its output buffer); its signature
  // predates const-correct pointer arrays.
  if (redisAsyncCommandArgv(ctx_, onReply, pending, static_cast<int>(argc),
                            const_cast<const char**>(argv), lengths) != REDIS_OK) {
    failLater(std::move(pending->cb));
    delete pending;
    return;
  }
  if (awaiting_++ == 0) {
    last_progress_ms_ = uv_now(loop_);
    arm();
  }
}

void Client::onReply(redisAsyncContext* ctx, void* reply, void* privdata) {
  auto* pending = static_cast<Pending*>(privdata);
  auto* self = static_cast<Client*>(ctx->data);
  if (self != nullptr && reply != nullptr) {
    if (self->awaiting_ > 0) {
      --self->awaiting_;
    }
    self->last_progress_ms_ = uv_now(self->loop_);
  }
  Callback cb = std::move(pending->cb);
  delete pending;
  if (cb) {
    cb(static_cast<const redisReply*>(reply));
  }
}

void Client::failLater(Callback cb) {
  if (!cb) {
    return;
  }
  if (state_ == State::kClosed) {
    cb(nullptr);  // closed: no loop turn to wait for (the check handle is gone)
    return;
  }
  deferred_.push_back(std::move(cb));
  if (deferred_.size() == 1 && state_ != State::kClosed) {
    uv_check_start(deferred_check_, onDeferred);
  }
}

void Client::onDeferred(uv_check_t* check) {
  auto* self = static_cast<Client*>(check->data);
  uv_check_stop(check);
  std::vector<Callback> due;
  due.swap(self->deferred_);
  for (Callback& cb : due) {
    cb(nullptr);
  }
}

void Client::close() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  if (resolving_ != nullptr) {
    resolving_->data = nullptr;  // its callback frees it
    uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
    resolving_ = nullptr;
  }
  if (ctx_ != nullptr) {
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    ctx->data = nullptr;
    redisAsyncFree(ctx);  // pending commands answered with nullptr
  }
  std::vector<Callback> due;
  due.swap(deferred_);
  for (Callback& cb : due) {
    cb(nullptr);
  }
  timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), deleteTimer);
  uv_close(reinterpret_cast<uv_handle_t*>(deferred_check_), deleteCheck);
}

}  // namespace redis
