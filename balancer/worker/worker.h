#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "balancer/downstream/exchange_slots.h"
#include "balancer/downstream/listener_runtime.h"
#include "balancer/metrics/worker_metrics.h"
#include "balancer/rate_limit/redis_limiter.h"
#include "balancer/shared_state.h"
#include "balancer/static_files/open_file_cache.h"
#include "common/compress/encoder_pool.h"
#include "common/jwt/token_cache.h"
#include "balancer/upstream/upstream_pool.h"
#include "balancer/worker/filter_services.h"
#include "common/http/parser.h"

namespace balancer {

class AccessLogSink;
class BackgroundExchange;
namespace cache {
class LoopMailbox;
}
class Session;
class Snapshot;

// One thread with its own libuv loop, its own SO_REUSEPORT listening sockets, client sessions
// and upstream pools. Nothing here is shared with other workers except the read-only snapshot
// and the backends' atomic counters, so the request path takes no lock.
class Worker {
 public:
  // A bound, listening socket this worker owns from now on, and its listener.
  struct Listening {
    int fd;
    const ListenerRuntime* listener;
  };
  // `on_finished` is called from the worker's thread once it has stopped. Nothing runs
  // before start().
  Worker(int id, std::shared_ptr<const Snapshot> snapshot,
         std::shared_ptr<const ListenerRuntimes> runtimes, SharedState* shared,
         std::vector<Listening> listening, std::function<void()> on_finished);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sets up the loop, its wake-ups and listening sockets, and starts the thread. On failure
  // returns false with why in `error`; nothing then runs and the sockets are closed.
  bool start(std::string* error);
  bool started() const { return started_; }
  // Thread-safe: stop accepting, let sessions finish their exchanges, then end the loop.
  void stop();
  // Thread-safe: shutdown_timeout passed: stop, and close every session now, logging each
  // exchange still in flight (503: the balancer gave up on it) so that no line is lost.
  void abortSessions();
  // Thread-safe: the admin API changed an upstream's backends; refresh the pools now, so idle
  // connections to a removed backend close. Not after stop().
  void wakeUpstreams() { uv_async_send(&upstreams_async_); }
  void join();
  bool finished() const { return finished_.load(); }

  uv_loop_t* loop() { return &loop_; }
  int id() const { return id_; }
  // The buffer every read of this loop goes into. What must outlive a read is copied.
  uv_buf_t readBuffer() { return uv_buf_init(read_buffer_.get(), kReadBufferSize); }
  // The pool of a snapshot's upstream (a session may still be on an older snapshot).
  UpstreamPool& pool(const Snapshot* snapshot, size_t upstream_index);
  // SIGHUP (worker/reload.cc). What a worker takes on with a new snapshot.
  struct Reload {
    std::shared_ptr<const Snapshot> snapshot;
    std::shared_ptr<const ListenerRuntimes> listeners;  // by index in snapshot's listeners
    std::shared_ptr<WorkerMetrics> metrics;  // null: the current block still fits
    std::vector<Listening> added;            // sockets of listeners new in this snapshot
  };
  // Thread-safe: switches to a new snapshot within one loop turn. Not after stop().
  void reload(Reload reload);
  // Moves a session between exchanges onto the current snapshot, its listener's runtime and
  // metrics block. Returns false (nothing changed) when its listener is gone.
  bool follow(const Snapshot** snapshot, const ListenerRuntime** listener,
              WorkerMetrics** metrics);
  const Snapshot* snapshot() const { return snapshot_; }
  // The current snapshot's request limits, at an address that stays valid while the worker
  // lives: a session's parser keeps the limits it began with, past the snapshot that set them.
  const http::ParserLimits* requestLimits() const { return request_limits_; }
  void newRequestId(std::string* out);

  // The sessions' exchange slots: warm ones are reused without allocating.
  ExchangeSlots& slots() { return slots_; }
  // The services its sessions' filters use (one for all: it holds nothing of a session).
  WorkerFilterServices& filterServices() { return filter_services_; }
  // The current token verifier (null without a jwt section) and this thread's cache of
  // verified tokens, emptied when SIGHUP brings new keys.
  const jwt::Verifier* verifier();
  jwt::TokenCache& tokenCache() { return token_cache_; }
  // A token named an unknown kid: asks for the keys again, at most once a second from this
  // worker, so a flood of such tokens stays off the shared state.
  void refetchKeys();
  SharedState& shared() { return *shared_; }
  // This loop's connection to Redis for scope: global limits (null without a redis section).
  rate_limit::RedisLimiter* redisLimiter() { return redis_limiter_.get(); }
  // Counts a request Redis could not rule on (served when failing open), and says so in the
  // log at the first and then every 10,000th, so an outage is visible but not a flood.
  void countRateLimitUnavailable();
  // Counts a refused token by route and reason ("expired", "missing", ...).
  void countJwtRejection(int route, const char* reason) {
    metrics_->countJwtRejection(route, reason);
  }
  // This worker's counters, summed over the workers by MetricsRegistry at scrape time.
  WorkerMetrics& metrics() { return *metrics_; }
  std::shared_ptr<const WorkerMetrics> metricsBlock() const { return metrics_; }
  // Where this worker's access log lines go; null when the access log is off. Set before
  // start().
  AccessLogSink* accessLog() { return access_log_; }
  void setAccessLog(AccessLogSink* sink) { access_log_ = sink; }
  std::string& logScratch() { return log_scratch_; }

  // Scratch space for building a head that is copied out before the call returns.
  std::string& headScratch() { return head_scratch_; }
  // Idle compressors of this worker's compress filters.
  compression::EncoderPool& encoderPool() { return encoder_pool_; }
  // Static routes' recent file lookups, open; emptied on reload and when the worker stops.
  static_files::OpenFileCache& openFiles() { return open_files_; }

  void sessionOpened(Session* session);
  void sessionClosed(Session* session);
  // A request with no client (BackgroundExchange) holds `snapshot`'s generation like a
  // session. A stopping worker aborts it (a refresh is not worth a drain's wait) and waits
  // for its end as for a session's.
  void backgroundOpened(BackgroundExchange* exchange, const Snapshot* snapshot);
  void backgroundClosed(BackgroundExchange* exchange, const Snapshot* snapshot);
  bool stopping() const { return stopping_; }
  void upstreamOpened() { ++upstream_connections_; }
  void upstreamClosed();

 private:
  static constexpr unsigned kReadBufferSize = 64 * 1024;
  static void onConnection(uv_stream_t* server, int status);
  static void onStop(uv_async_t* async);
  static void onReload(uv_async_t* async);
  void applyReload(Reload reload);
  // What this worker holds for one snapshot; the last of generations_ is the current one.
  struct Generation {
    std::shared_ptr<const Snapshot> snapshot;
    std::shared_ptr<const ListenerRuntimes> listeners;  // what its sessions' listener_ point to
    std::shared_ptr<WorkerMetrics> metrics;              // the block sized for it
    std::vector<UpstreamPool*> pools;                    // by upstream index
    size_t sessions = 0;                                 // this worker's sessions on it
  };
  Generation& generationOf(const Snapshot* snapshot);
  // A session left `generation`: once no session uses an old one, a sweep frees it.
  void leave(Generation& generation);
  // Soon (the next loop turn, after the close callbacks now due): sweep().
  void scheduleSweep();
  // Frees the old generations no session uses, then the pools no generation uses once their
  // last connection has closed (a detached one may still be flushing).
  void sweep();
  // Points request_limits_ at a kept copy of the current snapshot's limits.
  void keepRequestLimits();
  // Takes a listening socket into the loop and starts accepting. On failure closes it and
  // returns false with why in `error`.
  bool listen(const Listening& l, std::string* error);
  // start() failed: closes what it opened and the loop.
  void abandonLoop();
  void run();
  void beginStop();
  void finishIfDone();

  // A listening handle and what its connections need.
  struct ListenerHandle {
    uv_tcp_t tcp;
    Worker* worker;
    const ListenerRuntime* listener;
  };

  int id_;
  std::unordered_set<BackgroundExchange*> backgrounds_;  // running, to abort them at stop
  const Snapshot* snapshot_;
  SharedState* shared_;
  std::shared_ptr<const jwt::Verifier> verifier_;
  uint64_t verifier_generation_ = UINT64_MAX;
  uint64_t last_refetch_ms_ = 0;  // loop time of the last refetchKeys() passed on
  jwt::TokenCache token_cache_{4096};
  std::shared_ptr<WorkerMetrics> metrics_;
  AccessLogSink* access_log_ = nullptr;
  std::string log_scratch_;
  std::function<void()> on_finished_;
  std::vector<Listening> pending_listening_;  // until start() takes them
  uv_loop_t loop_;
  bool loop_open_ = false;
  bool started_ = false;
  uv_async_t stop_async_;
  uv_async_t upstreams_async_;  // wakeUpstreams()
  std::vector<std::unique_ptr<ListenerHandle>> listeners_;
  std::vector<std::unique_ptr<UpstreamPool>> pools_;  // every pool of generations_, and
                                                      // those closing their last connections
  size_t pools_created_ = 0;                          // seeds each new pool differently
  size_t draining_pools_ = 0;  // pools of no generation with connections still open
  std::vector<Generation> generations_;
  uv_idle_t sweep_;  // started by scheduleSweep()
  // Each distinct set of request limits the worker has run with (a few: they change only when
  // an operator edits them), and the current one.
  std::vector<std::unique_ptr<const http::ParserLimits>> kept_limits_;
  const http::ParserLimits* request_limits_ = nullptr;
  uv_async_t reload_async_;
  std::mutex reload_mutex_;
  std::vector<Reload> pending_reloads_;
  Session* sessions_ = nullptr;  // intrusive list through Session::prev_/next_
  size_t session_count_ = 0;
  uint64_t refused_connections_ = 0;  // over limits.max_connections_per_worker
  std::unique_ptr<rate_limit::RedisLimiter> redis_limiter_;
  uint64_t rate_limit_unavailable_ = 0;
  ExchangeSlots slots_;
  WorkerFilterServices filter_services_{this};
  std::string head_scratch_;
  compression::EncoderPool encoder_pool_;
  static_files::OpenFileCache open_files_;
  std::unique_ptr<char[]> read_buffer_;
  uint64_t random_state_;
  size_t upstream_connections_ = 0;
  bool stopping_ = false;
  std::shared_ptr<cache::LoopMailbox> mailbox_;  // other threads' tasks for this loop
  // abortSessions() was called; and the lock that keeps it from waking a closed handle.
  std::atomic<bool> abort_sessions_{false};
  std::mutex stop_async_mutex_;
  bool stop_async_closed_ = false;
  bool loop_closing_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace balancer
