#include "services/kit/pg_pool.h"

#include <poll.h>

#include <pqxx/pqxx>

#include "common/log/log.h"
#include "services/kit/reply.h"

namespace kit {

namespace {
constexpr uint64_t kTickMs = 50;

std::string withConnectTimeout(std::string url) {
  if (url.find("connect_timeout") != std::string::npos) {
    return url;
  }
  if (url.find("://") == std::string::npos) {  // key=value form
    return url + " connect_timeout=2";
  }
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=2";
}

void deleteTimer(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }

// An idle connection has nothing to read: when its socket is readable, the server spoke
// first, which for a connection that LISTENs to nothing means it said goodbye (a restart's
// "terminating connection", an idle timeout) or closed it. Replacing it before the query
// costs one poll(2); using it would fail the query with a 503.
bool closedWhileIdle(const pqxx::connection& conn) {
  pollfd p{conn.sock(), POLLIN, 0};
  return p.fd < 0 || ::poll(&p, 1, 0) != 0;
}
}  // namespace

struct PgPool::Job {
  uv_work_t req{};
  PgPool* pool = nullptr;
  int slot = -1;
  Work work;
  Done done;
  std::exception_ptr error;
  uint64_t queued_ms = 0;
};

PgPool::PgPool(uv_loop_t* loop, Options options)
    : loop_(loop), options_(std::move(options)), timer_(new uv_timer_t) {
  options_.url = withConnectTimeout(options_.url);
  int size = options_.size < 1 ? 1 : options_.size;
  slots_.resize(static_cast<size_t>(size));
  for (int i = size - 1; i >= 0; --i) {
    free_.push_back(i);
  }
  stats_.size = size;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

PgPool::~PgPool() {
  close();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), deleteTimer);
}

void PgPool::run(Work work, Done done) {
  if (closed_) {
    failLater(std::move(done), "shutting down");
    return;
  }
  auto job = std::make_unique<Job>();
  job->pool = this;
  job->work = std::move(work);
  job->done = std::move(done);
  if (!free_.empty() && waiting_.empty()) {
    int slot = free_.back();
    free_.pop_back();
    start(std::move(job), slot);
    return;
  }
  if (waiting_.size() >= options_.max_waiting) {
    failLater(std::move(job->done), "too many queries waiting for a connection");
    return;
  }
  ++stats_.waits;
  job->queued_ms = uv_now(loop_);
  waiting_.push_back(std::move(job));
  stats_.waiting = waiting_.size();
  armTimer();
}

void PgPool::start(std::unique_ptr<Job> job, int slot) {
  job->slot = slot;
  ++stats_.busy;
  Job* raw = job.release();  // owned by the request until onAfterWork
  raw->req.data = raw;
  int rc = uv_queue_work(loop_, &raw->req, onWork, onAfterWork);
  if (rc != 0) {
    std::unique_ptr<Job> back(raw);
    --stats_.busy;
    free_.push_back(slot);
    failLater(std::move(back->done), "cannot queue work");
  }
}

// On a pool thread: only this job touches its slot.
void PgPool::onWork(uv_work_t* req) {
  auto* job = static_cast<Job*>(req->data);
  Slot& slot = job->pool->slots_[static_cast<size_t>(job->slot)];
  try {
    uint64_t generation = job->pool->generation_.load(std::memory_order_acquire);
    if (!slot.conn || !slot.conn->is_open() || slot.generation < generation ||
        closedWhileIdle(*slot.conn)) {
      slot.conn.reset();
      slot.generation = generation;
      auto conn = std::make_unique<pqxx::connection>(job->pool->options_.url);
      for (const auto& [name, sql] : job->pool->options_.statements) {
        conn->prepare(name, sql);
      }
      slot.conn = std::move(conn);
    }
    job->work(*slot.conn);
  } catch (...) {
    job->error = std::current_exception();
    if (isUnavailable(job->error)) {
      slot.conn.reset();  // the next query opens a new one
    }
  }
}

void PgPool::onAfterWork(uv_work_t* req, int /*status*/) {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  PgPool* self = job->pool;
  --self->stats_.busy;
  ++self->stats_.queries;
  self->free_.push_back(job->slot);
  bool unavailable = job->error && isUnavailable(job->error);
  if (job->error) {
    ++self->stats_.failures;
  }
  if (unavailable) {
    self->generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (unavailable && self->stats_.up) {
    LOG_WARN("database unavailable; queries answer 503 until it is back");
  } else if (!unavailable && !self->stats_.up) {
    LOG_INFO("database reachable again");
  }
  self->stats_.up = !unavailable;
  self->pump();
  job->done(job->error);
}

void PgPool::pump() {
  while (!free_.empty() && !waiting_.empty()) {
    std::unique_ptr<Job> job = std::move(waiting_.front());
    waiting_.pop_front();
    stats_.wait_seconds_total += static_cast<double>(uv_now(loop_) - job->queued_ms) / 1000.0;
    int slot = free_.back();
    free_.pop_back();
    start(std::move(job), slot);
  }
  stats_.waiting = waiting_.size();
}

void PgPool::failLater(Done done, const char* why) {
  deferred_.emplace_back(std::move(done), why);
  armTimer();
}

void PgPool::armTimer() {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(timer_))) {
    uv_timer_start(timer_, onTimer, deferred_.empty() ? kTickMs : 0, kTickMs);
  }
}

void PgPool::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<PgPool*>(timer->data);
  uint64_t now = uv_now(self->loop_);
  auto limit = static_cast<uint64_t>(self->options_.acquire_timeout.count());
  while (!self->waiting_.empty() && now - self->waiting_.front()->queued_ms >= limit) {
    std::unique_ptr<Job> job = std::move(self->waiting_.front());
    self->waiting_.pop_front();
    self->stats_.wait_seconds_total += static_cast<double>(now - job->queued_ms) / 1000.0;
    self->deferred_.emplace_back(std::move(job->done), "no free database connection in time");
  }
  self->stats_.waiting = self->waiting_.size();
  std::vector<std::pair<Done, const char*>> due;
  due.swap(self->deferred_);
  if (self->waiting_.empty()) {
    uv_timer_stop(timer);
  }
  for (auto& [done, why] : due) {
    ++self->stats_.failures;
    done(std::make_exception_ptr(Unavailable(why)));
  }
}

void PgPool::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  while (!waiting_.empty()) {
    deferred_.emplace_back(std::move(waiting_.front()->done), "shutting down");
    waiting_.pop_front();
  }
  stats_.waiting = 0;
  armTimer();
}

}  // namespace kit
