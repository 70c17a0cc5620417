#include "services/order/user_stream_sweep.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <vector>

#include "common/log/log.h"

namespace order {

namespace {

// KEYS[1]: the index; ARGV[1]: the cut-off (ms); ARGV[2]: at most this many. The streams'
// names come from the index rather than KEYS, which a single Redis (not a cluster) allows.
constexpr const char* kSweepScript = R"lua(
local idle = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, key in ipairs(idle) do
  redis.call('DEL', key)
end
if #idle > 0 then
  redis.call('ZREM', KEYS[1], unpack(idle))
end
return #idle
)lua";

}  // namespace

UserStreamSweep::UserStreamSweep(uv_loop_t* loop, redis::Client& redis, Options options)
    : redis_(redis), options_(std::move(options)), tick_(new uv_timer_t) {
  uv_timer_init(loop, tick_);
  tick_->data = this;
}

UserStreamSweep::~UserStreamSweep() {
  stop();
  uv_close(reinterpret_cast<uv_handle_t*>(tick_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

void UserStreamSweep::start() {
  auto interval = static_cast<uint64_t>(options_.interval.count());
  uv_timer_start(tick_, onTick, interval, interval);
}

void UserStreamSweep::stop() {
  stopped_ = true;
  uv_timer_stop(tick_);
}

void UserStreamSweep::onTick(uv_timer_t* timer) {
  auto* self = static_cast<UserStreamSweep*>(timer->data);
  if (self->running_ || self->stopped_ || !self->redis_.connected()) {
    return;
  }
  if (!self->backfilled_) {
    self->running_ = true;
    self->backfill("0");
  } else {
    self->sweep();
  }
}

void UserStreamSweep::backfill(const std::string& cursor) {
  std::string pattern = options_.stream + ":user:*";
  redis_.command(
      {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", "stream"},
      [this](const redisReply* reply) {
        if (stopped_ || reply == nullptr || reply->type != REDIS_REPLY_ARRAY ||
            reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
          running_ = false;  // tried again from the start on a later tick
          return;
        }
        std::string next(reply->element[0]->str, reply->element[0]->len);
        const redisReply* keys = reply->element[1];
        if (keys->elements > 0) {
          std::string now_ms = std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count());
          std::vector<std::string> zadd = {"ZADD", options_.index, "NX"};
          for (size_t i = 0; i < keys->elements; ++i) {
            zadd.push_back(now_ms);
            zadd.emplace_back(keys->element[i]->str, keys->element[i]->len);
          }
          redis_.command(zadd, nullptr);
        }
        if (next == "0") {
          backfilled_ = true;
          running_ = false;
          return;
        }
        backfill(next);
      });
}

void UserStreamSweep::sweep() {
  running_ = true;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string cutoff = std::to_string(now_ms - options_.retention.count());
  std::string batch = std::to_string(options_.batch);
  redis_.command({"EVAL", kSweepScript, "1", options_.index, cutoff, batch},
                 [this](const redisReply* reply) {
                   running_ = false;
                   if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
                     LOG_WARN("user stream sweep failed: %s",
                              reply != nullptr && reply->type == REDIS_REPLY_ERROR
                                  ? reply->str
                                  : "no answer");
                     return;
                   }
                   removed_ += static_cast<uint64_t>(reply->integer);
                   if (reply->integer >= options_.batch && !stopped_) {
                     sweep();  // more are due: go on now rather than a tick later
                   }
                 });
}

void UserStreamSweep::collect(metrics::Exposition& out) const {
  out.family("order_user_streams_removed_total", "counter",
             "Per-user event streams removed after relay.user_retention without an event.");
  out.sample("order_user_streams_removed_total", {}, static_cast<double>(removed_));
}

}  // namespace order
