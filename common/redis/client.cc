#include "common/redis/client.h"

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
  // Non-blocking: the handshake completes on the loop. A host name would be resolved here,
  // blocking, so configurations name an IP address.
  redisAsyncContext* ctx = redisAsyncConnect(options_.host.c_str(), options_.port);
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
  if (self->failures_ > 0) {
    LOG_INFO("redis%s%s: connected to %s:%d", self->options_.name.empty() ? "" : " ",
             self->options_.name.c_str(), self->options_.host.c_str(), self->options_.port);
  }
  self->failures_ = 0;
  self->state_ = State::kConnected;
  self->backoff_ms_ = self->options_.backoff_min_ms;
  self->awaiting_ = 0;
  self->arm();  // nothing to watch until a command is sent
  if (!self->options_.password.empty()) {
    self->authenticate();  // pipelined ahead of everything else on this connection
  }
  if (self->on_connected_) {
    self->on_connected_();
  }
}

void Client::authenticate() {
  auto refused = [name = options_.name](const redisReply* reply) {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
      // Every command after it fails too (NOAUTH): say once why.
      LOG_ERROR("redis%s%s: AUTH refused: %s", name.empty() ? "" : " ", name.c_str(),
                reply->str);
    }
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
  if (state_ == State::kConnected || failures_ == 0) {
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
