#include "balancer/rate_limit/redis_limiter.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

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

redis::Client::Options clientOptions(const RedisLimiter::Options& options) {
  redis::Client::Options client;
  client.host = options.host;
  client.port = options.port;
  // The client's own deadline drops a dead connection; each check has a shorter one here.
  client.command_timeout_ms = options.stall_timeout_ms;
  client.connect_timeout_ms = options.connect_timeout_ms;
  client.backoff_min_ms = options.backoff_min_ms;
  client.backoff_max_ms = options.backoff_max_ms;
  client.backoff_jitter = true;  // every worker of every balancer loses Redis at once
  client.name = "rate limit";
  client.username = options.username;
  client.password = options.password;
  return client;
}

}  // namespace

RedisLimiter::RedisLimiter(uv_loop_t* loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      client_(loop, clientOptions(options_)),
      timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  // Loaded on every connection, even with the digest known: a restarted Redis has lost its
  // scripts, and the checks pipelined behind SCRIPT LOAD then find the script in place
  // instead of each failing with NOSCRIPT.
  client_.onConnected([this] {
    loading_script_ = false;  // a load sent on the previous connection is lost with it
    loadScript();
  });
}

RedisLimiter::~RedisLimiter() { close(); }

void RedisLimiter::loadScript() {
  static const char* const kArgv[] = {"SCRIPT", "LOAD", kBucketScript};
  if (loading_script_) {
    return;
  }
  loading_script_ = true;
  client_.command(kArgv, nullptr, 3, [this](const redisReply* reply) { onScriptLoaded(reply); });
}

void RedisLimiter::onScriptLoaded(const redisReply* reply) {
  loading_script_ = false;
  if (reply == nullptr) {
    return;  // the connection is gone; the next one loads it again
  }
  if (reply->type == REDIS_REPLY_STRING) {
    script_sha_.assign(reply->str, reply->len);
  } else {
    // Checks keep working with EVAL, only with more bytes per call.
    LOG_WARN("rate limit: SCRIPT LOAD failed: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
  }
}

void RedisLimiter::check(std::string_view key, double rate, double burst, Callback cb) {
  if (closed_ || !client_.connected() || pending_.size() >= options_.max_pending) {
    ++errors_;
    cb(kUnavailable);
    return;
  }
  std::string redis_key;
  redis_key.reserve(options_.key_prefix.size() + key.size());
  redis_key.append(options_.key_prefix).append(key);
  pending_.push_back(Pending{next_id_++, uv_now(loop_) + options_.timeout_ms, std::move(cb),
                             std::move(redis_key), rate, burst});
  send(pending_.back());  // never answers inside: a failure comes back on a later turn
  if (pending_.size() == 1) {
    arm();
  }
}

// Queues the check on the connection. EVALSHA once the script's digest is known: the 900-byte
// script is not sent and hashed on every call. Until SCRIPT LOAD has answered, and after a
// NOSCRIPT (SCRIPT FLUSH, a failover to a replica that never saw the script), EVAL, which also
// caches the script again.
void RedisLimiter::send(const Pending& p) {
  char rate[32];
  char burst[32];
  size_t rate_length = std::to_chars(rate, rate + sizeof(rate), p.rate).ptr - rate;
  size_t burst_length = std::to_chars(burst, burst + sizeof(burst), p.burst).ptr - burst;
  bool by_sha = !script_sha_.empty();
  const char* argv[] = {by_sha ? "EVALSHA" : "EVAL",
                        by_sha ? script_sha_.c_str() : kBucketScript,
                        "1", p.redis_key.data(), rate, burst};
  size_t lengths[] = {std::strlen(argv[0]), std::strlen(argv[1]), 1, p.redis_key.size(),
                      rate_length, burst_length};
  uint64_t id = p.id;
  client_.command(argv, lengths, 6, [this, id](const redisReply* reply) { onReply(id, reply); });
}

// A check's reply, or nullptr when its connection was lost (or closed) before it answered.
void RedisLimiter::onReply(uint64_t id, const redisReply* reply) {
  auto it = std::lower_bound(pending_.begin(), pending_.end(), id,
                             [](const Pending& p, uint64_t want) { return p.id < want; });
  if (it == pending_.end() || it->id != id || !it->cb) {
    return;  // answered already, at its timeout or by close()
  }
  if (reply == nullptr) {
    answer(*it, kUnavailable);
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR && std::strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    script_sha_.clear();
    loadScript();
    send(*it);  // asked again with EVAL, under the same id
    return;
  }
  Outcome outcome;
  if (std::optional<Decision> d = parseDecision(reply)) {
    outcome = Outcome{true, *d};
  } else {
    LOG_WARN("rate limit: unexpected Redis reply: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "not the script's array");
  }
  answer(*it, outcome);
}

// Runs a pending check's callback once, after taking it out of the queue, so that the
// callback may call check() or close().
void RedisLimiter::answer(Pending& pending, const Outcome& outcome) {
  if (!pending.cb) {
    return;
  }
  Callback cb = std::move(pending.cb);
  pending.cb = nullptr;
  // A check resent after NOSCRIPT lets later ones overtake it: those stay, answered, behind it.
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
    self->expire();
  }
}

// Answers the checks whose timeout has passed; their replies, if any, are ignored later.
void RedisLimiter::expire() {
  uint64_t now = uv_now(loop_);
  while (!pending_.empty() && pending_.front().deadline_ms <= now) {
    if (pending_.front().cb) {
      answer(pending_.front(), kUnavailable);  // also pops it
    } else {
      pending_.pop_front();
    }
  }
  arm();
}

// Sets the timer to the oldest check's deadline; the front of the queue is never answered.
void RedisLimiter::arm() {
  if (closed_) {
    return;
  }
  if (pending_.empty()) {
    uv_timer_stop(timer_);
    return;
  }
  uint64_t at = pending_.front().deadline_ms;
  uint64_t now = uv_now(loop_);
  uv_timer_start(timer_, onTimer, at > now ? at - now : 0, 0);
}

void RedisLimiter::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  // The client answers the checks on its connection with nullptr at once, or, inside a
  // hiredis callback (a check's callback calling close()), once that returns; by then the
  // loop below has answered them, and they find nothing pending.
  client_.close();
  timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  timer_ = nullptr;

  std::deque<Pending> orphans;
  orphans.swap(pending_);
  for (Pending& p : orphans) {
    answer(p, kUnavailable);  // may call check() or close() again: pending_ is empty
  }
}

}  // namespace balancer::rate_limit
