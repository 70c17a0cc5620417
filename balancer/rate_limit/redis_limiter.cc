#include "balancer/rate_limit/redis_limiter.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

#include "common/redis/hiredis_uv.h"
#include "common/log/log.h"

namespace balancer::rate_limit {

namespace {

// The whole bucket update, atomic because Redis runs one script at a time. The same math as
// take() in token_bucket.cc, on Redis's clock (TIME) so that every balancer agrees whatever
// its own clock says.
//   KEYS[1]  the bucket: a hash {tokens, ts (Redis time in ms)}; missing = full
//   ARGV[1]  rate, tokens per second;  ARGV[2]  burst, the capacity
//   returns  {allowed 0|1, remaining, retry_after_ms, reset_ms}
// The key expires when the bucket would be full again, so idle keys cost Redis nothing.
constexpr const char* kBucketScript = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local slack_ms = 1e-6
local function wait_ms(missing) return missing * 1000 / rate end
local function whole_ms(ms)
  if ms <= slack_ms then return 0 end
  return math.ceil(ms - slack_ms)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(saved[1]), tonumber(saved[2])
if tokens == nil or ts == nil then
  tokens, ts = burst, now
elseif now > ts then
  tokens, ts = tokens + (now - ts) * rate / 1000, now
end
tokens = math.min(tokens, burst)
local allowed, retry = 0, 0
local wait = wait_ms(1 - tokens)
if wait <= slack_ms then
  tokens, allowed = math.max(tokens - 1, 0), 1
else
  retry = whole_ms(wait)
end
local reset = whole_ms(wait_ms(burst - tokens))
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.max(reset, 1))
return {allowed, math.floor(tokens + 1e-9), retry, reset}
)lua";

const RedisLimiter::Outcome kUnavailable{};

void* idToData(uint64_t id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
uint64_t dataToId(void* data) { return reinterpret_cast<uintptr_t>(data); }

// The script's reply, or nullopt when it is anything else (an error, a foreign script).
std::optional<Decision> parseDecision(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
    return std::nullopt;
  }
  for (size_t i = 0; i < 4; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
  }
  Decision d;
  d.allowed = reply->element[0]->integer == 1;
  d.remaining = reply->element[1]->integer;
  d.retry_after_ms = reply->element[2]->integer;
  d.reset_ms = reply->element[3]->integer;
  return d;
}

std::string formatNumber(double value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

}  // namespace

RedisLimiter::RedisLimiter(uv_loop_t* loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      timer_(new uv_timer_t),
      backoff_ms_(options_.backoff_min_ms),
      random_state_((uv_hrtime() ^ reinterpret_cast<uintptr_t>(this)) | 1) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  connect();
}

RedisLimiter::~RedisLimiter() { close(); }

void RedisLimiter::connect() {
  state_ = State::kConnecting;
  connect_started_ms_ = uv_now(loop_);
  // Non-blocking: the TCP handshake completes on the loop (onConnect). A host name is
  // resolved here, blocking, so the config should name an IP address.
  redisAsyncContext* ctx = redisAsyncConnect(options_.host.c_str(), options_.port);
  if (ctx == nullptr || ctx->err != 0) {
    std::string why = ctx != nullptr ? ctx->errstr : "out of memory";
    if (ctx != nullptr) {
      redisAsyncFree(ctx);
    }
    lost(why.c_str());
    return;
  }
  if (!redis::attachToLoop(ctx, loop_)) {
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

void RedisLimiter::onConnect(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<RedisLimiter*>(ctx->data);
  if (self == nullptr) {
    return;
  }
  if (status != REDIS_OK) {
    self->ctx_ = nullptr;  // hiredis frees it after this callback
    self->lost(ctx->errstr);
    return;
  }
  if (self->connection_failures_ > 0) {
    LOG_INFO("rate limit: connected to Redis %s:%d", self->options_.host.c_str(),
             self->options_.port);
  }
  self->state_ = State::kConnected;
  self->backoff_ms_ = self->options_.backoff_min_ms;
  self->awaiting_replies_ = 0;
  // Loaded on every connection, even with the digest known: a restarted Redis has lost its
  // scripts, and the checks pipelined behind SCRIPT LOAD then find the script in place
  // instead of each failing with NOSCRIPT.
  self->loadScript();
  self->arm();
}

void RedisLimiter::onDisconnect(const redisAsyncContext* ctx, int /*status*/) {
  auto* self = static_cast<RedisLimiter*>(ctx->data);
  if (self == nullptr) {
    return;
  }
  self->ctx_ = nullptr;  // hiredis frees it after this callback
  self->lost(ctx->errstr[0] != '\0' ? ctx->errstr : "connection closed");
}

// The connection is gone (ctx_ already freed or being freed by hiredis): every check sent on
// it is answered now rather than at its timeout, and a reconnect is scheduled.
void RedisLimiter::lost(const char* why) {
  if (state_ == State::kConnected || connection_failures_ == 0) {
    LOG_WARN("rate limit: Redis %s:%d unavailable (%s); global limits answer 'unavailable'"
             " until it is back", options_.host.c_str(), options_.port, why);
  }
  ++connection_failures_;
  state_ = State::kDisconnected;
  ctx_ = nullptr;
  awaiting_replies_ = 0;
  loading_script_ = false;
  reconnect_at_ms_ = uv_now(loop_) + nextBackoff();

  std::deque<Pending> orphans;
  orphans.swap(pending_);
  for (Pending& p : orphans) {
    answer(p, kUnavailable);  // may call check() or close() again: pending_ is empty
  }
  arm();
}

// Drops a connection that does not progress. Called from the timer, never from inside a
// hiredis callback, so the context is freed at once.
void RedisLimiter::drop(const char* why) {
  redisAsyncContext* ctx = ctx_;
  ctx_ = nullptr;
  ctx->data = nullptr;  // its callbacks, run while freeing, must not reach this object
  redisAsyncFree(ctx);
  lost(why);
}

void RedisLimiter::loadScript() {
  const char* argv[] = {"SCRIPT", "LOAD", kBucketScript};
  if (loading_script_ || redisAsyncCommandArgv(ctx_, onScriptLoaded, nullptr, 3, argv,
                                               nullptr) != REDIS_OK) {
    return;
  }
  loading_script_ = true;
  if (awaiting_replies_++ == 0) {
    last_progress_ms_ = uv_now(loop_);
  }
}

void RedisLimiter::onScriptLoaded(redisAsyncContext* ctx, void* r, void* /*privdata*/) {
  auto* self = static_cast<RedisLimiter*>(ctx->data);
  if (self == nullptr || r == nullptr) {
    return;  // the connection is going away; lost() resets the state
  }
  --self->awaiting_replies_;
  self->last_progress_ms_ = uv_now(self->loop_);
  self->loading_script_ = false;
  auto* reply = static_cast<redisReply*>(r);
  if (reply->type == REDIS_REPLY_STRING) {
    self->script_sha_.assign(reply->str, reply->len);
  } else {
    // Checks keep working with EVAL, only with more bytes per call.
    LOG_WARN("rate limit: SCRIPT LOAD failed: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
  }
}

void RedisLimiter::check(std::string_view key, double rate, double burst, Callback cb) {
  if (state_ != State::kConnected || pending_.size() >= options_.max_pending) {
    ++errors_;
    cb(kUnavailable);
    return;
  }
  Pending p{next_id_++, uv_now(loop_) + options_.timeout_ms, std::move(cb),
            options_.key_prefix + std::string(key), rate, burst};
  if (!send(p)) {
    ++errors_;
    p.cb(kUnavailable);
    return;
  }
  pending_.push_back(std::move(p));
  if (pending_.size() == 1) {
    arm();
  }
}

// Writes the check into hiredis's output buffer (sent when the socket is writable). EVALSHA
// once the script's digest is known: the 900-byte script is not sent and hashed on every
// call. Until SCRIPT LOAD has answered, and after a NOSCRIPT (SCRIPT FLUSH, a failover to a
// replica that never saw the script), EVAL, which also caches the script again.
bool RedisLimiter::send(const Pending& p) {
  std::string rate = formatNumber(p.rate);
  std::string burst = formatNumber(p.burst);
  bool by_sha = !script_sha_.empty();
  const char* argv[] = {by_sha ? "EVALSHA" : "EVAL",
                        by_sha ? script_sha_.c_str() : kBucketScript,
                        "1", p.redis_key.c_str(), rate.c_str(), burst.c_str()};
  size_t lengths[] = {std::strlen(argv[0]), std::strlen(argv[1]), 1, p.redis_key.size(),
                      rate.size(), burst.size()};
  if (redisAsyncCommandArgv(ctx_, onReply, idToData(p.id), 6, argv, lengths) != REDIS_OK) {
    return false;
  }
  if (awaiting_replies_++ == 0) {
    last_progress_ms_ = uv_now(loop_);
  }
  return true;
}

void RedisLimiter::onReply(redisAsyncContext* ctx, void* r, void* privdata) {
  auto* self = static_cast<RedisLimiter*>(ctx->data);
  if (self == nullptr || r == nullptr) {
    return;  // the connection is going away; lost() answers every pending check
  }
  --self->awaiting_replies_;
  self->last_progress_ms_ = uv_now(self->loop_);

  uint64_t id = dataToId(privdata);
  auto it = std::lower_bound(self->pending_.begin(), self->pending_.end(), id,
                             [](const Pending& p, uint64_t want) { return p.id < want; });
  if (it == self->pending_.end() || it->id != id || !it->cb) {
    return;  // answered already, at its timeout
  }
  auto* reply = static_cast<redisReply*>(r);
  if (reply->type == REDIS_REPLY_ERROR && std::strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    self->script_sha_.clear();
    self->loadScript();
    if (self->send(*it)) {
      return;  // asked again with EVAL, under the same id
    }
  }
  Outcome outcome;
  if (std::optional<Decision> d = parseDecision(reply)) {
    outcome = Outcome{true, *d};
  } else {
    LOG_WARN("rate limit: unexpected Redis reply: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "not the script's array");
  }
  self->answer(*it, outcome);
}

// Runs a pending check's callback once, after taking it out of the queue, so that the
// callback may call check() or close().
void RedisLimiter::answer(Pending& pending, const Outcome& outcome) {
  if (!pending.cb) {
    return;  // answered already: a check resent after NOSCRIPT lets later ones overtake it
  }
  Callback cb = std::move(pending.cb);
  pending.cb = nullptr;
  while (!pending_.empty() && !pending_.front().cb) {
    pending_.pop_front();
  }
  if (!outcome.available) {
    ++errors_;
  }
  cb(outcome);
}

void RedisLimiter::onTimer(uv_timer_t* timer) {
  if (auto* self = static_cast<RedisLimiter*>(timer->data)) {
    self->handleTimer();
  }
}

// One timer serves every deadline: the oldest check's timeout, a connection attempt's
// timeout, a stalled connection, and the next reconnect.
void RedisLimiter::handleTimer() {
  uint64_t now = uv_now(loop_);
  while (!pending_.empty() && pending_.front().deadline_ms <= now) {
    if (pending_.front().cb) {
      answer(pending_.front(), kUnavailable);  // also pops it
    } else {
      pending_.pop_front();
    }
  }
  if (state_ == State::kConnected && awaiting_replies_ > 0 &&
      now - last_progress_ms_ >= options_.stall_timeout_ms) {
    drop("no reply in time");
  } else if (state_ == State::kConnecting &&
             now - connect_started_ms_ >= options_.connect_timeout_ms) {
    drop("connect timed out");
  } else if (state_ == State::kDisconnected && now >= reconnect_at_ms_) {
    connect();
  }
  arm();
}

void RedisLimiter::arm() {
  if (state_ == State::kClosed) {
    return;
  }
  uint64_t next = std::numeric_limits<uint64_t>::max();
  if (!pending_.empty()) {
    next = pending_.front().deadline_ms;
  }
  if (state_ == State::kConnected && awaiting_replies_ > 0) {
    next = std::min(next, last_progress_ms_ + options_.stall_timeout_ms);
  } else if (state_ == State::kConnecting) {
    next = std::min(next, connect_started_ms_ + options_.connect_timeout_ms);
  } else if (state_ == State::kDisconnected) {
    next = std::min(next, reconnect_at_ms_);
  }
  if (next == std::numeric_limits<uint64_t>::max()) {
    uv_timer_stop(timer_);
    return;
  }
  uint64_t now = uv_now(loop_);
  uv_timer_start(timer_, onTimer, next > now ? next - now : 0, 0);
}

// The delay before the next connection attempt: doubles from backoff_min_ms up to
// backoff_max_ms, each drawn from [d/2, d] so that many workers do not reconnect in step.
uint64_t RedisLimiter::nextBackoff() {
  uint64_t delay = std::max<uint64_t>(backoff_ms_, 1);
  backoff_ms_ = std::min(delay * 2, std::max(options_.backoff_max_ms, options_.backoff_min_ms));
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  return delay / 2 + random_state_ % (delay - delay / 2 + 1);
}

void RedisLimiter::close() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  if (ctx_ != nullptr) {
    redisAsyncContext* ctx = ctx_;
    ctx_ = nullptr;
    ctx->data = nullptr;
    // Inside a hiredis callback this only marks the context; hiredis frees it on return.
    redisAsyncFree(ctx);
  }
  timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  timer_ = nullptr;

  std::deque<Pending> orphans;
  orphans.swap(pending_);
  for (Pending& p : orphans) {
    answer(p, kUnavailable);
  }
}

}  // namespace balancer::rate_limit
