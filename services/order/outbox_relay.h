#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics/exposition.h"
#include "common/redis/client.h"
#include "common/util/units.h"
#include "services/kit/pg_pool.h"

namespace order {

// Publishes the outbox to a Redis stream: reads unsent rows in id order, XADDs each one
// (fields event_id, id_order, id_user, status, at, payload), then sets their sent_at.
// Delivery is at least once: a crash or a lost Redis reply between XADD and the UPDATE
// publishes those rows again, and consumers dedupe on event_id.
//
// One instance relays at a time. The relay keeps a connection of its own (a PgPool of one)
// and holds a session advisory lock on it: instances without the lock stay idle and try again
// on each tick, and take over within one tick when the holder dies (its session, hence the
// lock, ends). So there is no row lock at all, and nothing is held while waiting for Redis:
// the pool thread runs one short statement at a time, the loop waits for Redis. Rows are read
// without FOR UPDATE SKIP LOCKED for that reason; the lock is what keeps two instances from
// publishing the same rows.
//
// Order: the changes of one order are serialized by its row lock (see OrderHandlers), so its
// events get increasing outbox ids, and the relay publishes them in id order, stopping a
// batch at its first failed XADD. Across orders no order is promised.
//
// When it runs: at once when this process commits an event (kick), on a safety tick for
// events other instances wrote or left behind after a crash, again at once when a batch was
// full, and after a failure (Redis or PostgreSQL down) with a backoff, or as soon as Redis
// reconnects (wake).
class OutboxRelay {
 public:
  struct Options {
    std::string stream = "order-status";
    int64_t batch = 100;
    int64_t max_len = 1000000;   // XADD MAXLEN ~: the stream keeps about this many entries
    int64_t user_max_len = 1000; // ... and each user's own stream (for resuming) this many
    util::Millis interval{500};  // the safety tick
    util::Millis min_gap{5};     // between two batches: lets a burst of kicks share one
    util::Millis backoff_max{2000};
    int64_t lock_key = 0x6f75746278;  // "outbx": the advisory lock that elects the relay
  };

  // `database` is the PostgreSQL the orders live in (its statements are set here); `redis` is
  // the stream's server and must outlive the relay.
  OutboxRelay(uv_loop_t* loop, kit::PgPool::Options database, redis::Client& redis,
              Options options);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Starts the tick; the first batch runs at once, or when Redis first connects (wake).
  void start();
  // New events were committed: publish them soon (coalesced with a batch under way).
  void kick();
  // Redis is back: retry now rather than at the end of the backoff.
  void wake();
  // At shutdown: no new batch; the one under way is abandoned (its rows stay unsent).
  void stop();

  // order_outbox_events_published_total, order_outbox_backlog,
  // order_outbox_relay_errors_total{stage}, order_outbox_relay_leader.
  void collect(metrics::Exposition& out) const;

 private:
  struct Event {
    int64_t id = 0;
    std::string event_id;
    std::string id_order;
    std::string id_user;
    std::string status;
    std::string at;
    std::string payload;
  };
  struct Batch {
    bool leader = false;
    int64_t backlog = 0;
    std::vector<Event> events;
    std::vector<bool> added;  // per event: XADD answered with an entry id
    size_t pending = 0;
  };

  void runBatch();
  void publish(std::shared_ptr<Batch> batch);
  void published(std::shared_ptr<Batch> batch);
  void markSent(std::shared_ptr<Batch> batch, size_t count);
  // The batch is over: again at once when more is waiting, else idle until kicked.
  void finish(bool more);
  void fail(bool database);
  void schedule(uint64_t delay_ms);
  static void onTick(uv_timer_t* timer);
  static void onWake(uv_timer_t* timer);

  uv_loop_t* loop_;
  kit::PgPool db_;
  redis::Client& redis_;
  Options options_;
  uv_timer_t* tick_;  // the safety tick; freed in its close callback
  uv_timer_t* wake_;  // the next batch after a gap or a backoff
  // The backend pid of the relay connection holding the advisory lock: a new connection (after
  // a lost one) has another pid and must take the lock again. Touched only by the relay's
  // database work, which runs one job at a time.
  std::shared_ptr<int> lock_pid_ = std::make_shared<int>(0);

  bool running_ = false;    // a batch is under way
  bool again_ = false;      // kicked while running
  bool scheduled_ = false;  // wake_ is armed
  bool backing_off_ = false;
  bool stopped_ = false;
  uint64_t last_start_ms_ = 0;
  uint64_t backoff_ms_ = 0;

  bool leader_ = false;
  int64_t backlog_ = 0;
  uint64_t published_ = 0;
  uint64_t database_errors_ = 0;
  uint64_t redis_errors_ = 0;
};

}  // namespace order
