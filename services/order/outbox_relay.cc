#include "services/order/outbox_relay.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <pqxx/pqxx>

#include "common/log/log.h"
#include "services/order/user_stream_sweep.h"

namespace order {

namespace {

constexpr const char* kTryLock = "outbox_try_lock";
constexpr const char* kUnsent = "outbox_unsent";
constexpr const char* kBacklog = "outbox_backlog";
constexpr const char* kMarkSent = "outbox_mark_sent";
constexpr uint64_t kBackoffMinMs = 100;
// The backlog gauge counts up to this many rows: past it the number says "a lot", and
// counting more would cost more than the gauge is worth.
constexpr int64_t kBacklogCountLimit = 100000;

std::vector<std::pair<std::string, std::string>> relayStatements() {
  return {
      {kTryLock, "SELECT pg_try_advisory_lock($1::bigint)"},
      // outbox_unsent_idx holds exactly these rows, in id order.
      {kUnsent,
       "SELECT id, event_id::text, aggregate_id, payload->>'id_user', payload->>'status',"
       " payload->>'at', payload::text"
       " FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1"},
      {kBacklog, "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT " +
                     std::to_string(kBacklogCountLimit) + ") AS unsent"},
      {kMarkSent, "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"},
  };
}

void deleteTimer(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }

kit::PgPool::Options relayDatabase(kit::PgPool::Options options) {
  options.size = 1;  // one session: it holds the advisory lock
  options.statements = relayStatements();
  return options;
}

}  // namespace

OutboxRelay::OutboxRelay(uv_loop_t* loop, kit::PgPool::Options database, redis::Client& redis,
                         Options options)
    : loop_(loop),
      db_(loop, relayDatabase(std::move(database))),
      redis_(redis),
      options_(std::move(options)),
      tick_(new uv_timer_t),
      wake_(new uv_timer_t) {
  options_.batch = std::max<int64_t>(options_.batch, 1);
  uv_timer_init(loop_, tick_);
  uv_timer_init(loop_, wake_);
  tick_->data = this;
  wake_->data = this;
}

OutboxRelay::~OutboxRelay() {
  stop();
  uv_close(reinterpret_cast<uv_handle_t*>(tick_), deleteTimer);
  uv_close(reinterpret_cast<uv_handle_t*>(wake_), deleteTimer);
}

void OutboxRelay::start() {
  auto interval = static_cast<uint64_t>(options_.interval.count());
  uv_timer_start(tick_, onTick, interval, interval);
  if (redis_.connected()) {
    runBatch();
  }  // else the first connection wakes the relay
}

void OutboxRelay::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  uv_timer_stop(tick_);
  uv_timer_stop(wake_);
  db_.close();
}

void OutboxRelay::kick() {
  if (stopped_ || scheduled_) {
    return;  // a batch is due anyway
  }
  if (!redis_.connected()) {
    return;  // nothing could be published; the (re)connection wakes the relay
  }
  if (running_) {
    again_ = true;
    return;
  }
  uint64_t now = uv_now(loop_);
  auto gap = static_cast<uint64_t>(options_.min_gap.count());
  if (now - last_start_ms_ >= gap) {
    runBatch();
  } else {
    schedule(last_start_ms_ + gap - now);
  }
}

void OutboxRelay::wake() {
  if (backing_off_ && scheduled_) {
    uv_timer_stop(wake_);
    scheduled_ = false;
    backing_off_ = false;
    runBatch();
    return;
  }
  kick();
}

void OutboxRelay::schedule(uint64_t delay_ms) {
  scheduled_ = true;
  uv_timer_start(wake_, onWake, delay_ms, 0);
}

void OutboxRelay::onTick(uv_timer_t* timer) { static_cast<OutboxRelay*>(timer->data)->kick(); }

void OutboxRelay::onWake(uv_timer_t* timer) {
  auto* self = static_cast<OutboxRelay*>(timer->data);
  self->scheduled_ = false;
  self->backing_off_ = false;
  if (!self->stopped_ && !self->running_) {
    self->runBatch();
  }
}

// Step 1, on the relay's connection: make sure this instance holds the lock, then read the
// oldest unsent rows.
void OutboxRelay::runBatch() {
  running_ = true;
  again_ = false;
  last_start_ms_ = uv_now(loop_);
  if (!redis_.connected()) {
    fail(/*database=*/false);  // nothing to publish to; wake() retries when it is back
    return;
  }
  auto batch = std::make_shared<Batch>();
  db_.run(
      [batch, lock_pid = lock_pid_, key = options_.lock_key,
       limit = options_.batch](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        if (*lock_pid != conn.backendpid()) {
          if (!tx.exec_prepared(kTryLock, key)[0][0].as<bool>()) {
            batch->leader = false;  // another instance relays; just watch the backlog
            batch->backlog = tx.exec_prepared(kBacklog)[0][0].as<int64_t>();
            return;
          }
          *lock_pid = conn.backendpid();
        }
        batch->leader = true;
        pqxx::result rows = tx.exec_prepared(kUnsent, limit);
        batch->events.reserve(rows.size());
        for (const pqxx::row& row : rows) {
          Event e;
          e.id = row[0].as<int64_t>();
          e.event_id = row[1].as<std::string>();
          e.id_order = row[2].as<std::string>();
          e.id_user = row[3].as<std::string>();
          e.status = row[4].as<std::string>();
          e.at = row[5].as<std::string>();
          e.payload = row[6].as<std::string>();
          batch->events.push_back(std::move(e));
        }
        batch->backlog = static_cast<int64_t>(rows.size()) < limit
                             ? static_cast<int64_t>(rows.size())
                             : tx.exec_prepared(kBacklog)[0][0].as<int64_t>();
      },
      [this, batch](std::exception_ptr error) {
        if (stopped_) {
          running_ = false;
          return;
        }
        if (error) {
          fail(/*database=*/true);
          return;
        }
        if (batch->leader != leader_) {
          LOG_INFO("outbox relay: %s", batch->leader ? "this instance publishes the outbox"
                                                     : "another instance publishes the outbox");
        }
        leader_ = batch->leader;
        backlog_ = batch->backlog;
        if (!leader_ || batch->events.empty()) {
          finish(false);
          return;
        }
        publish(batch);
      });
}

// Step 2, on the loop: XADD every event, pipelined on the one connection (so in order).
// Each event goes to the shared stream (every notification-service instance follows it) and
// to its owner's capped stream, from which a reconnecting client gets what it missed; both in
// one MULTI/EXEC, so the two never disagree. The user's stream is capped (MAXLEN) but has no
// TTL: Redis evicts keys with a TTL when it reaches maxmemory (volatile-lru), and a stream
// must never be evicted. Its last write goes to the index UserStreamSweep reads, which
// removes it once idle for relay.user_retention.
void OutboxRelay::publish(std::shared_ptr<Batch> batch) {
  std::string max_len = std::to_string(options_.max_len);
  std::string user_max_len = std::to_string(options_.user_max_len);
  std::string index = userStreamIndex(options_.stream);
  std::string now_ms = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  batch->added.assign(batch->events.size(), false);
  batch->pending = batch->events.size();
  for (size_t i = 0; i < batch->events.size(); ++i) {
    const Event& e = batch->events[i];
    std::string user_stream = options_.stream + ":user:" + e.id_user;
    std::vector<std::string> fields = {"event_id", e.event_id, "id_order", e.id_order,
                                       "id_user", e.id_user, "status", e.status,
                                       "at", e.at, "payload", e.payload};
    std::vector<std::string> shared = {"XADD", options_.stream, "MAXLEN", "~", max_len, "*"};
    std::vector<std::string> own = {"XADD", user_stream, "MAXLEN", "~", user_max_len, "*"};
    shared.insert(shared.end(), fields.begin(), fields.end());
    own.insert(own.end(), fields.begin(), fields.end());
    redis_.command({"MULTI"}, nullptr);
    redis_.command(shared, nullptr);
    redis_.command(own, nullptr);
    redis_.command({"PERSIST", user_stream}, nullptr);  // a TTL set by an older version goes
    redis_.command({"ZADD", index, now_ms, user_stream}, nullptr);
    redis_.command({"EXEC"}, [this, batch, i](const redisReply* reply) {
      // EXEC answers an array of the queued commands' replies (nil if aborted).
      batch->added[i] = reply != nullptr && reply->type == REDIS_REPLY_ARRAY &&
                        reply->elements == 4 &&
                        reply->element[0]->type == REDIS_REPLY_STRING &&
                        reply->element[1]->type == REDIS_REPLY_STRING;
      if (--batch->pending == 0) {
        published(batch);
      }
    });
  }
}

void OutboxRelay::published(std::shared_ptr<Batch> batch) {
  if (stopped_) {
    running_ = false;
    return;
  }
  // Only the rows up to the first failure count as sent: a later one that made it is sent
  // again after the failed one, so that one order's events never arrive out of order (the
  // consumer drops the repeat by event_id).
  size_t count = 0;
  while (count < batch->added.size() && batch->added[count]) {
    ++count;
  }
  if (count == 0) {
    fail(/*database=*/false);
    return;
  }
  markSent(std::move(batch), count);
}

// Step 3, on the relay's connection: set sent_at on what Redis took.
void OutboxRelay::markSent(std::shared_ptr<Batch> batch, size_t count) {
  std::string ids = "{";
  for (size_t i = 0; i < count; ++i) {
    ids += (i == 0 ? "" : ",") + std::to_string(batch->events[i].id);
  }
  ids += "}";
  db_.run(
      [ids](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        tx.exec_prepared(kMarkSent, ids);
      },
      [this, batch, count](std::exception_ptr error) {
        if (stopped_) {
          running_ = false;
          return;
        }
        if (error) {
          fail(/*database=*/true);  // published; sent again later
          return;
        }
        published_ += count;
        backlog_ = std::max<int64_t>(0, backlog_ - static_cast<int64_t>(count));
        if (count < batch->events.size()) {
          fail(/*database=*/false);
          return;
        }
        finish(static_cast<int64_t>(count) == options_.batch);
      });
}

void OutboxRelay::finish(bool more) {
  running_ = false;
  backoff_ms_ = 0;
  if (more || again_) {
    again_ = false;
    kick();
  }
}

void OutboxRelay::fail(bool database) {
  running_ = false;
  again_ = false;
  if (database) {
    ++database_errors_;
  } else {
    ++redis_errors_;
  }
  if (backoff_ms_ == 0) {
    LOG_WARN("outbox relay: %s unavailable; events wait in the outbox",
             database ? "PostgreSQL" : "Redis");
  }
  backoff_ms_ = std::clamp<uint64_t>(backoff_ms_ * 2, kBackoffMinMs,
                                     static_cast<uint64_t>(options_.backoff_max.count()));
  if (scheduled_) {
    uv_timer_stop(wake_);
  }
  backing_off_ = true;
  schedule(backoff_ms_);
}

void OutboxRelay::collect(metrics::Exposition& out) const {
  out.family("order_outbox_events_published_total", "counter",
             "Outbox events this instance added to the Redis stream and marked sent.");
  out.sample("order_outbox_events_published_total", {}, static_cast<double>(published_));
  out.family("order_outbox_backlog", "gauge",
             "Unsent outbox rows at the relay's last look (counted up to 100000).");
  out.sample("order_outbox_backlog", {}, static_cast<double>(backlog_));
  out.family("order_outbox_relay_errors_total", "counter",
             "Relay batches that failed, by the store that failed; they are retried.");
  out.sample("order_outbox_relay_errors_total", {{"stage", "database"}},
             static_cast<double>(database_errors_));
  out.sample("order_outbox_relay_errors_total", {{"stage", "redis"}},
             static_cast<double>(redis_errors_));
  out.family("order_outbox_relay_leader", "gauge",
             "1 when this instance holds the relay lock and publishes the outbox.");
  out.sample("order_outbox_relay_leader", {}, leader_ ? 1.0 : 0.0);
}

}  // namespace order
