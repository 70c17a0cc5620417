#include "balancer/upstream/health_checker.h"

#include <cstring>

#include "balancer/outlier/outlier.h"
#include "balancer/snapshot.h"
#include "common/log/log.h"

namespace balancer {

struct HealthChecker::Probe {
  HealthChecker* checker;
  const UpstreamConfig* upstream;
  const HealthCheckConfig* config;
  std::shared_ptr<Backend> backend;
  uv_timer_t timer;
  int successes = 0;
  int failures = 0;
  Attempt* attempt = nullptr;
};

// One check: connect, send the request, read the status line. Frees itself once its two
// handles are closed.
struct HealthChecker::Attempt {
  Probe* probe;
  uv_tcp_t tcp;
  uv_timer_t timeout;
  uv_connect_t connect_req;
  uv_write_t write_req;
  std::string request;
  char buffer[256];
  size_t received = 0;
  int open_handles = 2;
  bool done = false;

  void finish(bool ok, const char* why) {
    if (done) {
      return;
    }
    done = true;
    if (probe != nullptr) {
      probe->attempt = nullptr;
      probe->checker->record(probe, ok, why);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), &Attempt::onClose);
    uv_close(reinterpret_cast<uv_handle_t*>(&timeout), &Attempt::onClose);
  }

  static void onClose(uv_handle_t* handle) {
    auto* self = static_cast<Attempt*>(handle->data);
    if (--self->open_handles == 0) {
      delete self;
    }
  }
};

HealthChecker::HealthChecker(uv_loop_t* loop, const Snapshot* snapshot)
    : loop_(loop), snapshot_(snapshot) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::start() {
  for (const auto& upstream : snapshot_->upstreams()) {
    if (!upstream->config->health_check) {
      continue;
    }
    for (const auto& backend : upstream->backends()->backends) {
      addProbe(*upstream, backend);
    }
  }
}

void HealthChecker::addProbe(const Upstream& upstream, std::shared_ptr<Backend> backend) {
  auto probe = std::make_unique<Probe>();
  probe->checker = this;
  probe->upstream = upstream.config;
  probe->config = &*upstream.config->health_check;
  probe->backend = std::move(backend);
  uv_timer_init(loop_, &probe->timer);
  probe->timer.data = probe.get();
  schedule(probe.get(), true);
  probes_.push_back(std::move(probe));
}

void HealthChecker::watch(const Upstream& upstream, std::shared_ptr<Backend> backend) {
  if (stopped_ || !upstream.config->health_check) {
    return;
  }
  addProbe(upstream, std::move(backend));
}

void HealthChecker::unwatch(const Backend* backend) {
  for (auto it = probes_.begin(); it != probes_.end(); ++it) {
    if ((*it)->backend.get() != backend) {
      continue;
    }
    Probe* probe = it->release();
    probes_.erase(it);
    if (probe->attempt != nullptr) {
      Attempt* attempt = probe->attempt;
      attempt->probe = nullptr;
      probe->attempt = nullptr;
      attempt->finish(false, "stopped");
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&probe->timer),
             [](uv_handle_t* h) { delete static_cast<Probe*>(h->data); });
    return;
  }
}

void HealthChecker::retarget(const Snapshot* snapshot) {
  while (!probes_.empty()) {
    unwatch(probes_.back()->backend.get());
  }
  snapshot_ = snapshot;
  if (!stopped_) {
    start();
  }
}

void HealthChecker::stop() {
  stopped_ = true;
  for (auto& probe : probes_) {
    if (probe->attempt != nullptr) {
      Attempt* attempt = probe->attempt;
      attempt->probe = nullptr;
      probe->attempt = nullptr;
      attempt->finish(false, "stopped");
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&probe->timer), nullptr);
  }
}

uint64_t HealthChecker::jitter(uint64_t interval_ms) {
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  uint64_t spread = interval_ms / 5 + 1;  // +-10%
  return interval_ms - interval_ms / 10 + random_state_ % spread;
}

void HealthChecker::schedule(Probe* probe, bool first) {
  uint64_t interval = static_cast<uint64_t>(probe->config->interval.count());
  // The first check comes soon, spread over a fraction of the interval.
  uint64_t delay = first ? jitter(interval) / 4 : jitter(interval);
  uv_timer_start(&probe->timer, &HealthChecker::onTick, delay, 0);
}

void HealthChecker::onTick(uv_timer_t* timer) {
  auto* probe = static_cast<Probe*>(timer->data);
  probe->checker->run(probe);
}

void HealthChecker::run(Probe* probe) {
  if (stopped_) {
    return;
  }
  auto* a = new Attempt;
  a->probe = probe;
  probe->attempt = a;
  uv_tcp_init(loop_, &a->tcp);
  uv_timer_init(loop_, &a->timeout);
  a->tcp.data = a;
  a->timeout.data = a;
  a->connect_req.data = a;
  a->write_req.data = a;
  a->request = "GET " + probe->config->path + " HTTP/1.1\r\nHost: " + probe->backend->address.text +
               "\r\nUser-Agent: balancer-health-check\r\nConnection: close\r\n\r\n";
  uv_timer_start(
      &a->timeout,
      [](uv_timer_t* t) { static_cast<Attempt*>(t->data)->finish(false, "timeout"); },
      static_cast<uint64_t>(probe->config->timeout.count()), 0);
  int r = uv_tcp_connect(
      &a->connect_req, &a->tcp, probe->backend->address.get(), [](uv_connect_t* req, int status) {
        auto* at = static_cast<Attempt*>(req->data);
        if (at->done) {
          return;
        }
        if (status < 0) {
          at->finish(false, uv_strerror(status));
          return;
        }
        uv_buf_t buf = uv_buf_init(at->request.data(), static_cast<unsigned>(at->request.size()));
        uv_write(&at->write_req, reinterpret_cast<uv_stream_t*>(&at->tcp), &buf, 1,
                 [](uv_write_t* w, int st) {
                   auto* wa = static_cast<Attempt*>(w->data);
                   if (st < 0 && !wa->done) {
                     wa->finish(false, uv_strerror(st));
                   }
                 });
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&at->tcp),
            [](uv_handle_t* h, size_t, uv_buf_t* b) {
              auto* ra = static_cast<Attempt*>(h->data);
              *b = uv_buf_init(ra->buffer + ra->received,
                               static_cast<unsigned>(sizeof ra->buffer - ra->received));
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
              auto* ra = static_cast<Attempt*>(s->data);
              if (ra->done) {
                return;
              }
              if (n < 0) {
                ra->finish(false, "closed before a status line");
                return;
              }
              ra->received += static_cast<size_t>(n);
              // "HTTP/1.1 200" is all that is needed.
              if (ra->received >= 12) {
                bool http = std::memcmp(ra->buffer, "HTTP/1.", 7) == 0;
                bool ok = http && ra->buffer[9] == '2';
                ra->finish(ok, http ? "non-2xx status" : "not HTTP");
              } else if (ra->received == sizeof ra->buffer) {
                ra->finish(false, "not HTTP");
              }
            });
      });
  if (r != 0) {
    a->finish(false, uv_strerror(r));
  }
}

void HealthChecker::record(Probe* probe, bool ok, const char* why) {
  Backend* b = probe->backend.get();
  bool healthy = b->healthy.load();
  (ok ? b->health_checks_ok : b->health_checks_failed).add();
  if (ok) {
    b->last_check_ok_ms.store(outlier::nowMs(), std::memory_order_relaxed);
    probe->failures = 0;
    if (!healthy && ++probe->successes >= probe->config->healthy_threshold) {
      b->healthy.store(true);
      probe->successes = 0;
      LOG_INFO("health: upstream=%s backend=%s is up", probe->upstream->name.c_str(),
               b->address.text.c_str());
    }
  } else {
    probe->successes = 0;
    if (healthy && ++probe->failures >= probe->config->unhealthy_threshold) {
      b->healthy.store(false);
      probe->failures = 0;
      LOG_WARN("health: upstream=%s backend=%s is down (%s)", probe->upstream->name.c_str(),
               b->address.text.c_str(), why);
    }
  }
  if (!stopped_) {
    schedule(probe, false);
  }
}

}  // namespace balancer
