#include "balancer/worker/worker.h"

#include <array>
#include <cstring>

#include <unistd.h>

#include <chrono>
#include <system_error>

#include "balancer/cache/loop_mailbox.h"
#include "balancer/cache/loop_poster.h"
#include "balancer/downstream/session.h"
#include "balancer/exchange/background_exchange.h"
#include "balancer/snapshot.h"
#include "common/log/log.h"

namespace balancer {

Worker::Worker(int id, std::shared_ptr<const Snapshot> snapshot,
               std::shared_ptr<const ListenerRuntimes> runtimes, SharedState* shared,
               std::vector<Listening> listening, std::function<void()> on_finished)
    : id_(id),
      snapshot_(snapshot.get()),
      shared_(shared),
      metrics_(std::make_shared<WorkerMetrics>(snapshot->config())),
      on_finished_(std::move(on_finished)),
      pending_listening_(std::move(listening)),
      read_buffer_(new char[kReadBufferSize]) {
  generations_.push_back({std::move(snapshot), std::move(runtimes), metrics_, {}, 0});
  keepRequestLimits();
  random_state_ = static_cast<uint64_t>(
                      std::chrono::steady_clock::now().time_since_epoch().count()) ^
                  (static_cast<uint64_t>(id) << 32) ^ static_cast<uint64_t>(getpid());
}

Worker::~Worker() {
  join();
  for (const Listening& l : pending_listening_) {
    ::close(l.fd);  // never started
  }
  if (loop_open_) {
    uv_loop_close(&loop_);
  }
}

bool Worker::start(std::string* error) {
  auto failed = [&](const char* call, int r) {
    *error = std::string(call) + ": " + uv_strerror(r);
    abandonLoop();
    return false;
  };
  int r = uv_loop_init(&loop_);
  if (r != 0) {
    return failed("uv_loop_init", r);
  }
  loop_open_ = true;
  struct Wakeup {
    uv_async_t* handle;
    uv_async_cb callback;
  };
  const Wakeup wakeups[] = {
      {&stop_async_, &Worker::onStop},
      {&upstreams_async_,
       [](uv_async_t* async) {
         for (const Generation& g : static_cast<Worker*>(async->data)->generations_) {
           for (UpstreamPool* pool : g.pools) {
             pool->refresh();
           }
         }
       }},
      {&reload_async_, &Worker::onReload}};
  for (const Wakeup& w : wakeups) {
    if ((r = uv_async_init(&loop_, w.handle, w.callback)) != 0) {
      return failed("uv_async_init", r);
    }
    w.handle->data = this;
  }
  if ((r = uv_idle_init(&loop_, &sweep_)) != 0) {
    return failed("uv_idle_init", r);
  }
  sweep_.data = this;
  if ((r = slots_.open(&loop_)) != 0) {
    return failed("uv_check_init", r);
  }
  // Tasks other workers post here (a cache fill this worker's clients wait for).
  mailbox_ = cache::LoopMailbox::make();
  if ((r = mailbox_->open(&loop_)) != 0) {
    mailbox_.reset();
    return failed("uv_async_init", r);
  }
  Generation& first = generations_.back();
  for (const auto& upstream : snapshot_->upstreams()) {
    pools_.push_back(std::make_unique<UpstreamPool>(
        this, std::shared_ptr<const Upstream>(first.snapshot, upstream.get()),
        random_state_ + pools_created_++ * 7919));
    first.pools.push_back(pools_.back().get());
  }
  if (const auto& redis = snapshot_->config().redis) {
    rate_limit::RedisLimiter::Options options;
    options.host = redis->host;
    options.port = redis->port;
    options.timeout_ms = static_cast<uint64_t>(redis->timeout.count());
    options.username = redis->username;
    options.password = redis->password;
    redis_limiter_ = std::make_unique<rate_limit::RedisLimiter>(&loop_, options);
  }
  std::vector<Listening> listening;
  listening.swap(pending_listening_);
  for (size_t i = 0; i < listening.size(); ++i) {
    if (!listen(listening[i], error)) {
      pending_listening_.assign(listening.begin() + static_cast<long>(i) + 1, listening.end());
      abandonLoop();
      return false;
    }
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    *error = std::string("cannot create its thread: ") + e.what();
    abandonLoop();
    return false;
  }
  started_ = true;
  return true;
}

bool Worker::listen(const Listening& l, std::string* error) {
  auto handle = std::make_unique<ListenerHandle>();
  handle->worker = this;
  handle->listener = l.listener;
  handle->tcp.data = handle.get();
  const char* call = "uv_tcp_init";
  int r = uv_tcp_init(&loop_, &handle->tcp);
  if (r != 0) {
    ::close(l.fd);
    *error = std::string(call) + ": " + uv_strerror(r);
    return false;
  }
  call = "uv_tcp_open";
  r = uv_tcp_open(&handle->tcp, l.fd);
  if (r != 0) {
    ::close(l.fd);  // not the handle's yet
  } else {
    call = "uv_listen";
    r = uv_listen(reinterpret_cast<uv_stream_t*>(&handle->tcp), 4096, &Worker::onConnection);
  }
  if (r != 0) {
    *error = std::string("listener ") + l.listener->config->name + ": " + call + ": " +
             uv_strerror(r);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->tcp),
             [](uv_handle_t* h) { delete static_cast<ListenerHandle*>(h->data); });
    handle.release();
    return false;
  }
  listeners_.push_back(std::move(handle));
  return true;
}

void Worker::abandonLoop() {
  for (const Listening& l : pending_listening_) {
    ::close(l.fd);
  }
  pending_listening_.clear();
  if (!loop_open_) {
    return;
  }
  if (redis_limiter_) {
    redis_limiter_->close();
  }
  if (mailbox_) {
    mailbox_->close();
  }
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) {
          uv_close(handle, nullptr);
        }
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);  // the close callbacks
  listeners_.clear();
  uv_loop_close(&loop_);
  loop_open_ = false;
}

void Worker::run() {
  cache::setThreadPoster(mailbox_->poster());
  uv_run(&loop_, UV_RUN_DEFAULT);
  cache::setThreadPoster(nullptr);
  finished_.store(true);
  on_finished_();
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::stop() {
  std::lock_guard<std::mutex> lock(stop_async_mutex_);
  if (!stop_async_closed_) {
    uv_async_send(&stop_async_);  // not once the loop closed the handle
  }
}

void Worker::abortSessions() {
  abort_sessions_.store(true);
  std::lock_guard<std::mutex> lock(stop_async_mutex_);
  if (!stop_async_closed_) {
    uv_async_send(&stop_async_);
  }
}

void Worker::onStop(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  self->beginStop();
  if (self->abort_sessions_.load() && !self->loop_closing_) {
    // close() unlinks a session only in its close callback: the walk is safe.
    for (Session* s = self->sessions_; s != nullptr; s = s->next_) {
      s->close(503);
    }
  }
}

void Worker::beginStop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  open_files_.clear();
  for (auto& handle : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->tcp), nullptr);
  }
  // drain() may close a session; it is unlinked only in its close callback, so the walk is
  // safe.
  for (Session* s = sessions_; s != nullptr; s = s->next_) {
    s->drain();
  }
  // Each leaves the set only in its close callback, a later loop turn: the walk is safe.
  for (BackgroundExchange* b : backgrounds_) {
    b->abort();
  }
  finishIfDone();
}

void Worker::sessionOpened(Session* session) {
  session->next_ = sessions_;
  if (sessions_ != nullptr) {
    sessions_->prev_ = session;
  }
  sessions_ = session;
  ++session_count_;
  ++generationOf(session->snapshot_).sessions;
  metrics_->client_connections.add(1);
}

void Worker::sessionClosed(Session* session) {
  if (session->prev_ != nullptr) {
    session->prev_->next_ = session->next_;
  } else {
    sessions_ = session->next_;
  }
  if (session->next_ != nullptr) {
    session->next_->prev_ = session->prev_;
  }
  --session_count_;
  metrics_->client_connections.add(-1);
  leave(generationOf(session->snapshot_));
  finishIfDone();
}

void Worker::backgroundOpened(BackgroundExchange* exchange, const Snapshot* snapshot) {
  backgrounds_.insert(exchange);
  ++generationOf(snapshot).sessions;
}

void Worker::backgroundClosed(BackgroundExchange* exchange, const Snapshot* snapshot) {
  backgrounds_.erase(exchange);
  leave(generationOf(snapshot));
  finishIfDone();
}

void Worker::countRateLimitUnavailable() {
  if (rate_limit_unavailable_++ % 10000 == 0) {
    LOG_WARN("worker %d: Redis unavailable for global rate limits (%llu requests so far)", id_,
             static_cast<unsigned long long>(rate_limit_unavailable_));
  }
}

const jwt::Verifier* Worker::verifier() {
  uint64_t generation = shared_->verifierGeneration();
  if (generation != verifier_generation_) {
    verifier_ = shared_->verifier();
    verifier_generation_ = generation;
    token_cache_.clear();  // tokens accepted under the old keys are checked again
  }
  return verifier_.get();
}

void Worker::refetchKeys() {
  uint64_t now = uv_now(&loop_);
  if (last_refetch_ms_ != 0 && now - last_refetch_ms_ < 1000) {
    return;
  }
  last_refetch_ms_ = now;
  shared_->refetchKeys();
}

void Worker::upstreamClosed() {
  --upstream_connections_;
  if (draining_pools_ != 0) {
    scheduleSweep();  // perhaps the last connection of a pool no generation uses
  }
  finishIfDone();
}

void Worker::finishIfDone() {
  if (!stopping_ || session_count_ != 0 || !backgrounds_.empty() || loop_closing_) {
    return;
  }
  // No session left: close the idle upstream connections and the wake-up handle; the loop
  // then has nothing to wait for and run() returns.
  loop_closing_ = true;
  for (auto& pool : pools_) {
    pool->closeIdle();
  }
  if (redis_limiter_) {
    redis_limiter_->close();
  }
  mailbox_->close();
  {
    std::lock_guard<std::mutex> lock(stop_async_mutex_);
    stop_async_closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&upstreams_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&reload_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), nullptr);
  slots_.close();
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* handle = static_cast<ListenerHandle*>(server->data);
  Worker* self = handle->worker;
  if (status < 0) {
    LOG_WARN("worker %d: accept failed: %s", self->id_, uv_strerror(status));
    return;
  }
  if (self->stopping_) {
    return;
  }
  size_t cap = self->snapshot_->config().limits.max_connections_per_worker;
  if (cap != 0 && self->session_count_ >= cap) {
    // Over the cap: take the connection off the queue and close it at once, rather than let
    // the kernel's queue grow with clients that would only time out.
    auto* refused = new uv_tcp_t;
    if (int r = uv_tcp_init(&self->loop_, refused); r != 0) {
      delete refused;
      LOG_WARN("worker %d: cannot refuse a connection: %s", self->id_, uv_strerror(r));
      return;
    }
    uv_accept(server, reinterpret_cast<uv_stream_t*>(refused));
    uv_close(reinterpret_cast<uv_handle_t*>(refused),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    ++self->refused_connections_;
    return;
  }
  auto* session = new Session(self, self->snapshot_, handle->listener);
  session->start(server);
}

namespace {

// "000102...ff": two hex digits per byte, so an id is 16 two-byte copies, not 32 lookups.
constexpr auto kHexPairs = [] {
  std::array<char, 512> table{};
  constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 256; ++i) {
    table[2 * i] = kHex[i >> 4];
    table[2 * i + 1] = kHex[i & 0xF];
  }
  return table;
}();

}  // namespace

void Worker::newRequestId(std::string* out) {
  out->resize(32);
  char* p = out->data();
  for (int half = 0; half < 2; ++half) {
    // splitmix64: one multiply-xorshift round per 16 hex digits.
    uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (int i = 0; i < 8; ++i, z >>= 8) {
      std::memcpy(p, &kHexPairs[2 * (z & 0xFF)], 2);
      p += 2;
    }
  }
}

}  // namespace balancer
