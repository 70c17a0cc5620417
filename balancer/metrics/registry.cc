#include "balancer/metrics/registry.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "balancer/access_log/access_log.h"
#include "balancer/snapshot.h"
#include "common/metrics/exposition.h"

namespace balancer {

namespace {

double residentBytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) {
    resident = 0;
  }
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double openFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  int n = 0;
  while (readdir(dir) != nullptr) {
    ++n;
  }
  closedir(dir);
  return n > 3 ? n - 3 : 0;  // ".", ".." and the directory's own descriptor
}

// Seconds since the epoch at which the process started, from /proc/self/stat's starttime.
double startTime() {
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (f == nullptr) {
    return 0;
  }
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const char* p = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (buf[i] == ')') {
      p = buf + i + 1;
    }
  }
  if (p == nullptr) {
    return 0;
  }
  unsigned long long start_ticks = 0;
  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
  // cstime priority nice threads itrealvalue starttime
  if (std::sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                     "%*d %llu",
                  &start_ticks) != 1) {
    return 0;
  }
  double boot = 0;
  if (FILE* s = std::fopen("/proc/stat", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, s) != nullptr) {
      unsigned long long btime = 0;
      if (std::sscanf(line, "btime %llu", &btime) == 1) {
        boot = static_cast<double>(btime);
        break;
      }
    }
    std::fclose(s);
  }
  return boot + static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

std::string routeLabel(const RouteConfig& route, size_t index) {
  std::string label;
  appendRouteLabel(&label, route, index);
  return label;
}

void appendRouteLabel(std::string* out, const RouteConfig& route, size_t index) {
  char digits[24];
  char* end = std::to_chars(digits, digits + sizeof digits - 1, index).ptr;
  *end++ = ':';
  out->append(digits, end);
  out->append(route.host);
  if (!route.path.empty()) {
    out->append(route.path);
  } else if (!route.path_prefix.empty()) {
    out->append(route.path_prefix);
  } else if (route.host.empty()) {
    out->push_back('*');
  }
}

MetricsRegistry::MetricsRegistry(const Snapshot* snapshot) : snapshot_(snapshot) {
  const auto& routes = snapshot_->config().routes;
  for (size_t i = 0; i < routes.size(); ++i) {
    route_labels_.push_back(routeLabel(routes[i], i));
  }
}

void MetricsRegistry::addWorker(std::shared_ptr<const WorkerMetrics> block) {
  std::lock_guard<std::mutex> lock(mutex_);
  workers_.push_back(std::move(block));
}

std::string MetricsRegistry::render() const {
  std::vector<std::shared_ptr<const WorkerMetrics>> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers = workers_;
  }
  const Config& config = snapshot_->config();
  const size_t route_slots = config.routes.size() + 1;  // the last: no route matched
  auto routeName = [&](size_t slot) -> std::string_view {
    return slot < route_labels_.size() ? std::string_view(route_labels_[slot]) : "unmatched";
  };
  auto upstreamOfSlot = [&](size_t slot) -> std::string_view {
    if (slot >= config.routes.size()) {
      return "none";
    }
    return config.upstreams[snapshot_->upstreamOfRoute(slot)].name;
  };
  // Sums a per-worker counter over every worker.
  auto sum = [&](auto&& get) {
    uint64_t total = 0;
    for (const auto& w : workers) {
      total += get(*w);
    }
    return total;
  };

  metrics::Exposition out;

  out.family("balancer_requests_total", "counter",
             "Requests answered, by route, upstream and status code.");
  for (size_t slot = 0; slot < route_slots; ++slot) {
    for (int code = 0; code < kStatusSlots; ++code) {
      uint64_t n = sum([&](const WorkerMetrics& w) {
        return w.routeAt(slot).codes[static_cast<size_t>(code)].get();
      });
      if (n == 0) {
        continue;
      }
      std::string code_text = std::to_string(code + kMinStatus);
      metrics::Label labels[] = {
          {"route", routeName(slot)}, {"upstream", upstreamOfSlot(slot)}, {"code", code_text}};
      out.sample("balancer_requests_total", labels, static_cast<double>(n));
    }
  }

  out.family("balancer_request_duration_seconds", "histogram",
             "Time from a request's first byte to the end of its answer, by route and upstream.");
  for (size_t slot = 0; slot < route_slots; ++slot) {
    std::array<uint64_t, kDurationBounds.size() + 1> counts{};
    uint64_t total = 0;
    for (size_t b = 0; b < counts.size(); ++b) {
      counts[b] = sum([&](const WorkerMetrics& w) { return w.routeAt(slot).duration_buckets[b].get(); });
      total += counts[b];
    }
    if (total == 0 && slot == config.routes.size()) {
      continue;  // the unmatched series appears once something was unmatched
    }
    double seconds =
        static_cast<double>(sum([&](const WorkerMetrics& w) {
          return w.routeAt(slot).duration_sum_ns.get();
        })) /
        1e9;
    metrics::Label labels[] = {{"route", routeName(slot)}, {"upstream", upstreamOfSlot(slot)}};
    out.histogram("balancer_request_duration_seconds", labels, kDurationBounds, counts, seconds);
  }

  out.family("balancer_rate_limited_total", "counter", "Requests refused with 429, by route.");
  for (size_t slot = 0; slot < config.routes.size(); ++slot) {
    uint64_t n = sum([&](const WorkerMetrics& w) { return w.routeAt(slot).rate_limited.get(); });
    out.sample("balancer_rate_limited_total", {{"route", routeName(slot)}}, static_cast<double>(n));
  }

  out.family("balancer_jwt_rejected_total", "counter",
             "Requests refused for their token (401) or its roles (403), by route and reason.");
  for (size_t slot = 0; slot < config.routes.size(); ++slot) {
    for (size_t r = 0; r < kJwtReasons.size(); ++r) {
      uint64_t n = sum([&](const WorkerMetrics& w) { return w.routeAt(slot).jwt_rejected[r].get(); });
      if (n == 0) {
        continue;
      }
      out.sample("balancer_jwt_rejected_total",
                 {{"route", routeName(slot)}, {"reason", kJwtReasons[r]}}, static_cast<double>(n));
    }
  }

  out.family("balancer_client_connections", "gauge", "Client connections open now.");
  {
    int64_t n = 0;
    for (const auto& w : workers) {
      n += w->client_connections.get();
    }
    out.sample("balancer_client_connections", {}, static_cast<double>(n > 0 ? n : 0));
  }

  // Per listener.
  struct ListenerSeries {
    const char* name;
    const char* type;
    const char* help;
    Counter WorkerMetrics::Listener::*field;
    const char* extra_name;
    const char* extra_value;
  };
  static const ListenerSeries kListenerSeries[] = {
      {"balancer_client_connections_accepted_total", "counter", "Client connections accepted.",
       &WorkerMetrics::Listener::connections_accepted, nullptr, nullptr},
      {"balancer_received_bytes_total", "counter",
       "Bytes read from clients (decrypted), by listener.", &WorkerMetrics::Listener::bytes_in,
       nullptr, nullptr},
      {"balancer_sent_bytes_total", "counter",
       "Bytes of responses sent to clients (before encryption), by listener.",
       &WorkerMetrics::Listener::bytes_out, nullptr, nullptr},
  };
  for (const ListenerSeries& s : kListenerSeries) {
    out.family(s.name, s.type, s.help);
    for (size_t l = 0; l < config.listeners.size(); ++l) {
      uint64_t n = sum([&](const WorkerMetrics& w) { return (w.listener(l).*s.field).get(); });
      out.sample(s.name, {{"listener", config.listeners[l].name}}, static_cast<double>(n));
    }
  }
  out.family("balancer_tls_handshakes_total", "counter",
             "TLS handshakes with clients, by listener, result and protocol version.");
  for (size_t l = 0; l < config.listeners.size(); ++l) {
    if (!config.listeners[l].tls) {
      continue;
    }
    const std::string& name = config.listeners[l].name;
    struct {
      const char* result;
      const char* version;
      Counter WorkerMetrics::Listener::*field;
    } const kinds[] = {{"success", "TLSv1.2", &WorkerMetrics::Listener::tls_ok_12},
                       {"success", "TLSv1.3", &WorkerMetrics::Listener::tls_ok_13},
                       {"success", "other", &WorkerMetrics::Listener::tls_ok_other},
                       {"failure", "none", &WorkerMetrics::Listener::tls_failed}};
    for (const auto& k : kinds) {
      uint64_t n = sum([&](const WorkerMetrics& w) { return (w.listener(l).*k.field).get(); });
      out.sample("balancer_tls_handshakes_total",
                 {{"listener", name}, {"result", k.result}, {"version", k.version}},
                 static_cast<double>(n));
    }
  }

  // Per upstream.
  out.family("balancer_upstream_connect_errors_total", "counter",
             "Connections to backends that failed or timed out, by upstream.");
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    uint64_t n = sum([&](const WorkerMetrics& w) { return w.upstream(u).connect_errors.get(); });
    out.sample("balancer_upstream_connect_errors_total", {{"upstream", config.upstreams[u].name}},
               static_cast<double>(n));
  }
  out.family("balancer_upstream_retries_total", "counter",
             "Requests sent again to another backend (or on a fresh connection), by upstream.");
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    uint64_t n = sum([&](const WorkerMetrics& w) { return w.upstream(u).retries.get(); });
    out.sample("balancer_upstream_retries_total", {{"upstream", config.upstreams[u].name}},
               static_cast<double>(n));
  }
  out.family("balancer_upstream_connections_total", "counter",
             "Upstream connections a request used, by upstream: new (opened for it) or reused "
             "(from the keep-alive pool).");
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const std::string& name = config.upstreams[u].name;
    uint64_t fresh = sum([&](const WorkerMetrics& w) { return w.upstream(u).connections_new.get(); });
    uint64_t reused =
        sum([&](const WorkerMetrics& w) { return w.upstream(u).connections_reused.get(); });
    out.sample("balancer_upstream_connections_total", {{"upstream", name}, {"state", "new"}},
               static_cast<double>(fresh));
    out.sample("balancer_upstream_connections_total", {{"upstream", name}, {"state", "reused"}},
               static_cast<double>(reused));
  }

  // Per backend, from the shared Backend objects (so backends added at run time appear).
  // Each upstream's current backend set, held for the scrape: the admin API may replace it.
  std::vector<std::pair<const UpstreamConfig*, std::shared_ptr<const BackendSet>>> upstreams;
  for (const auto& up : snapshot_->upstreams()) {
    upstreams.emplace_back(up->config, up->backends());
  }
  out.family("balancer_upstream_in_flight", "gauge",
             "Requests sent to a backend and not yet answered, over all workers.");
  for (const auto& [uc, set] : upstreams) {
    for (const auto& b : set->backends) {
      out.sample("balancer_upstream_in_flight",
                 {{"upstream", uc->name}, {"backend", b->address.text}},
                 static_cast<double>(b->inFlight()));
    }
  }
  out.family("balancer_upstream_backend_up", "gauge",
             "1 when a backend may get requests (healthy and not draining), else 0.");
  for (const auto& [uc, set] : upstreams) {
    for (const auto& b : set->backends) {
      out.sample("balancer_upstream_backend_up",
                 {{"upstream", uc->name}, {"backend", b->address.text}},
                 b->usable() ? 1 : 0);
    }
  }
  out.family("balancer_upstream_ejections_total", "counter",
             "Times a backend was ejected by outlier detection.");
  for (const auto& [uc, set] : upstreams) {
    for (const auto& b : set->backends) {
      out.sample("balancer_upstream_ejections_total",
                 {{"upstream", uc->name}, {"backend", b->address.text}},
                 static_cast<double>(b->ejections.load(std::memory_order_relaxed)));
    }
  }
  out.family("balancer_health_checks_total", "counter",
             "Active health checks run, by upstream, backend and result.");
  for (const auto& [uc, set] : upstreams) {
    if (!uc->health_check) {
      continue;
    }
    for (const auto& b : set->backends) {
      out.sample("balancer_health_checks_total",
                 {{"upstream", uc->name}, {"backend", b->address.text},
                  {"result", "success"}},
                 static_cast<double>(b->health_checks_ok.get()));
      out.sample("balancer_health_checks_total",
                 {{"upstream", uc->name}, {"backend", b->address.text},
                  {"result", "failure"}},
                 static_cast<double>(b->health_checks_failed.get()));
    }
  }

  if (access_log_ != nullptr) {
    out.family("balancer_access_log_dropped_total", "counter",
               "Access log lines dropped because the writer fell behind.");
    out.sample("balancer_access_log_dropped_total", {},
               static_cast<double>(access_log_->dropped()));
  }

  // The process, under the names every Prometheus client library uses.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
  out.sample("process_cpu_seconds_total", {}, cpu);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", {}, residentBytes());
  out.family("process_open_fds", "gauge", "Open file descriptors.");
  out.sample("process_open_fds", {}, openFds());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out.sample("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
  }
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, std::floor(startTime()));
  return out.take();
}

}  // namespace balancer
