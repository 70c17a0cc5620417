#include "balancer/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "balancer/access_log/access_log.h"
#include "balancer/discovery/dns_discovery.h"
#include "balancer/jwks/jwks_stats.h"
#include "balancer/snapshot.h"
#include "common/metrics/exposition.h"
#include "common/metrics/process.h"

namespace balancer {

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

namespace {

}  // namespace

MetricsRegistry::Group MetricsRegistry::labelsOf(const Snapshot& snapshot) {
  Group g;
  const Config& config = snapshot.config();
  for (size_t i = 0; i < config.routes.size(); ++i) {
    g.route_labels.push_back(routeLabel(config.routes[i], i));
    g.route_upstreams.push_back(snapshot.upstreamLabelOfRoute(i));
    g.route_cached.push_back(config.routes[i].cache.has_value());
  }
  for (const auto& u : config.upstreams) {
    g.upstreams.push_back(u.name);
  }
  for (const auto& l : config.listeners) {
    g.listeners.push_back({l.name, l.tls.has_value(), l.proxy_protocol});
  }
  return g;
}

MetricsRegistry::MetricsRegistry(const Snapshot* snapshot) : current_(snapshot) {
  groups_.push_back(labelsOf(*snapshot));
  last_reload_ok_s_.store(static_cast<int64_t>(time(nullptr)));
}

void MetricsRegistry::addWorker(std::shared_ptr<const WorkerMetrics> block) {
  std::lock_guard<std::mutex> lock(mutex_);
  groups_.back().workers.push_back(std::move(block));
}

void MetricsRegistry::addSnapshot(const Snapshot* snapshot,
                                  std::vector<std::shared_ptr<const WorkerMetrics>> blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = snapshot;
  if (!blocks.empty()) {
    groups_.push_back(labelsOf(*snapshot));
    groups_.back().workers = std::move(blocks);
  }
  // Groups whose blocks no worker holds any more (every session on their snapshots has
  // closed) are folded into retired_: their counts stay, their memory goes.
  for (size_t i = 0; i + 1 < groups_.size();) {
    bool held = false;
    for (const auto& block : groups_[i].workers) {
      held = held || block.use_count() > 1;
    }
    if (held) {
      ++i;
      continue;
    }
    std::atomic_thread_fence(std::memory_order_acquire);  // the workers' last counts
    addGroup(groups_[i], &retired_);
    groups_.erase(groups_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void MetricsRegistry::countReload(bool ok) {
  if (ok) {
    reloads_ok_.fetch_add(1);
    last_reload_ok_s_.store(static_cast<int64_t>(time(nullptr)));
  } else {
    reloads_failed_.fetch_add(1);
  }
}

// Each group's counters summed over its workers, then merged by label with the other
// groups' (a route or upstream that stays across reloads is one series).
void MetricsRegistry::addGroup(const Group& g, Totals* totals) {
  auto& routes = totals->routes;
  auto& upstream_totals = totals->upstreams;
  auto& listener_totals = totals->listeners;
  for (const auto& wp : g.workers) {
    const WorkerMetrics& w = *wp;
    totals->connections += w.client_connections.get();
    for (size_t slot = 0; slot <= g.route_labels.size(); ++slot) {
      bool configured = slot < g.route_labels.size();
      RouteTotals& t = configured ? routes[{g.route_labels[slot], g.route_upstreams[slot]}]
                                  : routes[{"unmatched", "none"}];
      t.configured = t.configured || configured;
      const WorkerMetrics::Route& r = w.routeAt(slot);
      for (size_t c = 0; c < t.codes.size(); ++c) {
        t.codes[c] += r.codes[c].get();
      }
      for (size_t b = 0; b < t.buckets.size(); ++b) {
        t.buckets[b] += r.duration_buckets[b].get();
      }
      t.duration_sum_ns += r.duration_sum_ns.get();
      t.rate_limited += r.rate_limited.get();
      t.limit_unavailable += r.limit_unavailable.get();
      t.headers_dropped += r.headers_dropped.get();
      for (size_t j = 0; j < t.jwt.size(); ++j) {
        t.jwt[j] += r.jwt_rejected[j].get();
      }
      for (size_t e = 0; e < compression::kEncodingCount; ++e) {
        t.compress_in[e] += r.compress_in[e].get();
        t.compress_out[e] += r.compress_out[e].get();
      }
      for (size_t j = 0; j < t.cache.size(); ++j) {
        t.cache[j] += r.cache_results[j].get();
      }
    }
    for (size_t u = 0; u < g.upstreams.size(); ++u) {
      UpstreamTotals& t = upstream_totals[g.upstreams[u]];
      t.connect_errors += w.upstream(u).connect_errors.get();
      t.retries += w.upstream(u).retries.get();
      t.fresh += w.upstream(u).connections_new.get();
      t.reused += w.upstream(u).connections_reused.get();
    }
    for (size_t l = 0; l < g.listeners.size(); ++l) {
      ListenerTotals& t = listener_totals[g.listeners[l].name];
      const WorkerMetrics::Listener& c = w.listener(l);
      t.accepted += c.connections_accepted.get();
      t.bytes_in += c.bytes_in.get();
      t.bytes_out += c.bytes_out.get();
      t.tls_12 += c.tls_ok_12.get();
      t.tls_13 += c.tls_ok_13.get();
      t.tls_other += c.tls_ok_other.get();
      t.tls_failed += c.tls_failed.get();
      t.proxy_invalid += c.proxy_invalid.get();
      t.proxy_timeout += c.proxy_timeout.get();
      t.tls = t.tls || g.listeners[l].tls;
      t.proxy_protocol = t.proxy_protocol || g.listeners[l].proxy_protocol;
    }
  }
  // A snapshot's routes, upstreams and listeners appear even before a worker counts one.
  for (size_t slot = 0; slot < g.route_labels.size(); ++slot) {
    RouteTotals& t = routes[{g.route_labels[slot], g.route_upstreams[slot]}];
    t.configured = true;
    t.cached = t.cached || g.route_cached[slot];
  }
  for (const auto& u : g.upstreams) {
    upstream_totals[u];
  }
  for (const auto& l : g.listeners) {
    listener_totals[l.name].tls = listener_totals[l.name].tls || l.tls;
    listener_totals[l.name].proxy_protocol =
        listener_totals[l.name].proxy_protocol || l.proxy_protocol;
  }
}

std::string MetricsRegistry::render() const {
  std::vector<Group> groups;
  const Snapshot* current = nullptr;
  Totals totals;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    groups = groups_;
    current = current_;
    totals = retired_;
  }
  for (const Group& g : groups) {
    addGroup(g, &totals);
  }
  const auto& routes = totals.routes;
  const auto& upstream_totals = totals.upstreams;
  const auto& listener_totals = totals.listeners;
  int64_t connections = totals.connections;

  metrics::Exposition out;

  out.family("balancer_requests_total", "counter",
             "Requests answered, by route, upstream and status code.");
  for (const auto& [key, t] : routes) {
    for (int code = 0; code < kStatusSlots; ++code) {
      uint64_t n = t.codes[static_cast<size_t>(code)];
      if (n == 0) {
        continue;
      }
      std::string code_text = std::to_string(code + kMinStatus);
      metrics::Label labels[] = {
          {"route", key.first}, {"upstream", key.second}, {"code", code_text}};
      out.sample("balancer_requests_total", labels, static_cast<double>(n));
    }
  }

  out.family("balancer_request_duration_seconds", "histogram",
             "Time from a request's first byte to the end of its answer, by route and upstream.");
  for (const auto& [key, t] : routes) {
    uint64_t total = 0;
    for (uint64_t c : t.buckets) {
      total += c;
    }
    if (total == 0 && !t.configured) {
      continue;  // the unmatched series appears once something was unmatched
    }
    metrics::Label labels[] = {{"route", key.first}, {"upstream", key.second}};
    out.histogram("balancer_request_duration_seconds", labels, kDurationBounds, t.buckets,
                  static_cast<double>(t.duration_sum_ns) / 1e9);
  }

  out.family("balancer_rate_limited_total", "counter", "Requests refused with 429, by route.");
  {
    std::map<std::string, uint64_t> by_route;  // one series per route label
    for (const auto& [key, t] : routes) {
      if (t.configured) {
        by_route[key.first] += t.rate_limited;
      }
    }
    for (const auto& [route, n] : by_route) {
      out.sample("balancer_rate_limited_total", {{"route", route}}, static_cast<double>(n));
    }
  }

  out.family("balancer_rate_limit_unavailable_total", "counter",
             "Global rate limit checks Redis could not answer (down, slow, queue full), by route; "
             "redis.on_unavailable says what they got.");
  {
    std::map<std::string, uint64_t> by_route;
    for (const auto& [key, t] : routes) {
      if (t.configured) {
        by_route[key.first] += t.limit_unavailable;
      }
    }
    for (const auto& [route, n] : by_route) {
      out.sample("balancer_rate_limit_unavailable_total", {{"route", route}},
                 static_cast<double>(n));
    }
  }

  // Series only for a route and encoding that compressed something: most routes never do.
  const std::pair<const char*, std::array<uint64_t, compression::kEncodingCount> RouteTotals::*>
      compress_families[] = {
          {"balancer_compress_input_bytes_total", &RouteTotals::compress_in},
          {"balancer_compress_output_bytes_total", &RouteTotals::compress_out}};
  for (const auto& [name, member] : compress_families) {
    bool input = member == &RouteTotals::compress_in;
    out.family(name, "counter",
               input ? "Response body bytes compressed, before compression, by route and encoding."
                     : "Response body bytes compressed, after compression, by route and encoding.");
    std::map<std::pair<std::string, size_t>, uint64_t> by_route;
    for (const auto& [key, t] : routes) {
      for (size_t e = 0; e < compression::kEncodingCount; ++e) {
        if (t.configured && (t.*member)[e] > 0) {
          by_route[{key.first, e}] += (t.*member)[e];
        }
      }
    }
    for (const auto& [key, n] : by_route) {
      std::string encoding(compression::encodingName(static_cast<compression::Encoding>(key.second)));
      metrics::Label labels[] = {{"route", key.first}, {"encoding", encoding}};
      out.sample(name, labels, static_cast<double>(n));
    }
  }

  out.family("balancer_request_headers_dropped_total", "counter",
             "Request headers not forwarded, by route and reason (underscore: a '_' in the name).");
  {
    std::map<std::string, uint64_t> by_route;
    for (const auto& [key, t] : routes) {
      if (t.configured) {
        by_route[key.first] += t.headers_dropped;
      }
    }
    for (const auto& [route, n] : by_route) {
      out.sample("balancer_request_headers_dropped_total", {{"route", route}, {"reason", "underscore"}},
                 static_cast<double>(n));
    }
  }

  out.family("balancer_jwt_rejected_total", "counter",
             "Requests refused for their token (401) or its roles (403), by route and reason.");
  {
    std::map<std::pair<std::string, size_t>, uint64_t> by_route;
    for (const auto& [key, t] : routes) {
      for (size_t r = 0; r < kJwtReasons.size(); ++r) {
        if (t.configured && t.jwt[r] != 0) {
          by_route[{key.first, r}] += t.jwt[r];
        }
      }
    }
    for (const auto& [key, n] : by_route) {
      out.sample("balancer_jwt_rejected_total",
                 {{"route", key.first}, {"reason", kJwtReasons[key.second]}},
                 static_cast<double>(n));
    }
  }

  out.family("balancer_cache_requests_total", "counter",
             "Requests on routes with a cache, by route and what the cache did (X-Cache).");
  {
    std::map<std::pair<std::string, size_t>, uint64_t> by_route;
    for (const auto& [key, t] : routes) {
      for (size_t r = 0; r < kCacheResultLabels.size(); ++r) {
        if (t.configured && (t.cached || t.cache[r] != 0)) {
          by_route[{key.first, r}] += t.cache[r];
        }
      }
    }
    for (const auto& [key, n] : by_route) {
      out.sample("balancer_cache_requests_total",
                 {{"route", key.first}, {"result", kCacheResultLabels[key.second]}},
                 static_cast<double>(n));
    }
  }
  // Per cache zone, read from the shared stores (a zone kept across a reload keeps its counts).
  struct ZoneSeries {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (cache::Store::*read)() const;
  };
  static const ZoneSeries kZoneSeries[] = {
      {"balancer_cache_objects", "gauge", "Responses stored in a cache zone.",
       &cache::Store::objects},
      {"balancer_cache_bytes", "gauge",
       "Bytes a cache zone's stored responses take (bodies and heads), within its memory.",
       &cache::Store::bytes},
      {"balancer_cache_evictions_total", "counter",
       "Responses a cache zone evicted to stay within its memory.", &cache::Store::evictions},
  };
  for (const ZoneSeries& s : kZoneSeries) {
    out.family(s.name, s.type, s.help);
    for (const auto& [name, zone] : current->cacheZones().all()) {
      out.sample(s.name, {{"zone", name}}, static_cast<double>((zone->store.*s.read)()));
    }
  }

  out.family("balancer_client_connections", "gauge", "Client connections open now.");
  out.sample("balancer_client_connections", {},
             static_cast<double>(connections > 0 ? connections : 0));

  // Per listener.
  struct ListenerSeries {
    const char* name;
    const char* help;
    uint64_t ListenerTotals::*field;
  };
  static const ListenerSeries kListenerSeries[] = {
      {"balancer_client_connections_accepted_total", "Client connections accepted.",
       &ListenerTotals::accepted},
      {"balancer_received_bytes_total", "Bytes read from clients (decrypted), by listener.",
       &ListenerTotals::bytes_in},
      {"balancer_sent_bytes_total",
       "Bytes of responses sent to clients (before encryption), by listener.",
       &ListenerTotals::bytes_out},
  };
  for (const ListenerSeries& s : kListenerSeries) {
    out.family(s.name, "counter", s.help);
    for (const auto& [name, t] : listener_totals) {
      out.sample(s.name, {{"listener", name}}, static_cast<double>(t.*s.field));
    }
  }
  out.family("balancer_tls_handshakes_total", "counter",
             "TLS handshakes with clients, by listener, result and protocol version.");
  for (const auto& [name, t] : listener_totals) {
    if (!t.tls) {
      continue;
    }
    struct {
      const char* result;
      const char* version;
      uint64_t value;
    } const kinds[] = {{"success", "TLSv1.2", t.tls_12},
                       {"success", "TLSv1.3", t.tls_13},
                       {"success", "other", t.tls_other},
                       {"failure", "none", t.tls_failed}};
    for (const auto& k : kinds) {
      out.sample("balancer_tls_handshakes_total",
                 {{"listener", name}, {"result", k.result}, {"version", k.version}},
                 static_cast<double>(k.value));
    }
  }

  out.family("balancer_proxy_protocol_refused_total", "counter",
             "Connections to a proxy_protocol listener closed without a valid PROXY header, by "
             "listener and reason (invalid: not a PROXY header; timeout: none within "
             "timeouts.client_header).");
  for (const auto& [name, t] : listener_totals) {
    if (!t.proxy_protocol) {
      continue;
    }
    out.sample("balancer_proxy_protocol_refused_total", {{"listener", name}, {"reason", "invalid"}},
               static_cast<double>(t.proxy_invalid));
    out.sample("balancer_proxy_protocol_refused_total", {{"listener", name}, {"reason", "timeout"}},
               static_cast<double>(t.proxy_timeout));
  }

  // Per upstream.
  out.family("balancer_upstream_connect_errors_total", "counter",
             "Connections to backends that failed or timed out, by upstream.");
  for (const auto& [name, t] : upstream_totals) {
    out.sample("balancer_upstream_connect_errors_total", {{"upstream", name}},
               static_cast<double>(t.connect_errors));
  }
  out.family("balancer_upstream_retries_total", "counter",
             "Requests sent again to another backend (or on a fresh connection), by upstream.");
  for (const auto& [name, t] : upstream_totals) {
    out.sample("balancer_upstream_retries_total", {{"upstream", name}},
               static_cast<double>(t.retries));
  }
  out.family("balancer_upstream_connections_total", "counter",
             "Upstream connections a request used, by upstream: new (opened for it) or reused "
             "(from the keep-alive pool).");
  for (const auto& [name, t] : upstream_totals) {
    out.sample("balancer_upstream_connections_total", {{"upstream", name}, {"state", "new"}},
               static_cast<double>(t.fresh));
    out.sample("balancer_upstream_connections_total", {{"upstream", name}, {"state", "reused"}},
               static_cast<double>(t.reused));
  }

  out.family("balancer_config_reloads_total", "counter",
             "Configuration reloads (SIGHUP), by result.");
  out.sample("balancer_config_reloads_total", {{"result", "success"}},
             static_cast<double>(reloads_ok_.load()));
  out.sample("balancer_config_reloads_total", {{"result", "failure"}},
             static_cast<double>(reloads_failed_.load()));
  out.family("balancer_config_last_reload_success_timestamp_seconds", "gauge",
             "When the configuration in use was loaded (start or last good reload), Unix time.");
  out.sample("balancer_config_last_reload_success_timestamp_seconds", {},
             static_cast<double>(last_reload_ok_s_.load()));

  if (discovery_ != nullptr) {
    discovery_->renderMetrics(out);
  }

  // Per backend, from the shared Backend objects (so backends added at run time appear).
  // Each upstream's current backend set, held for the scrape: the admin API may replace it.
  std::vector<std::pair<const UpstreamConfig*, std::shared_ptr<const BackendSet>>> upstreams;
  for (const auto& up : current->upstreams()) {
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

  if (const jwks::JwksStats* jwks = jwks_stats_.load()) {
    out.family("balancer_jwks_fetches_total", "counter",
               "Fetches of jwt.jwks_url, by result (error: the last good keys stay).");
    out.sample("balancer_jwks_fetches_total", {{"result", "ok"}},
               static_cast<double>(jwks->fetches_ok.load()));
    out.sample("balancer_jwks_fetches_total", {{"result", "error"}},
               static_cast<double>(jwks->fetches_error.load()));
    out.family("balancer_jwks_keys", "gauge", "Keys in the JWKS in use.");
    out.sample("balancer_jwks_keys", {}, static_cast<double>(jwks->keys.load()));
    out.family("balancer_jwks_last_success_timestamp_seconds", "gauge",
               "Unix time of the last good fetch of jwt.jwks_url (0: none yet).");
    out.sample("balancer_jwks_last_success_timestamp_seconds", {},
               static_cast<double>(jwks->last_success_seconds.load()));
  }

  metrics::writeProcessMetrics(out);
  return out.take();
}

}  // namespace balancer
