#include "services/kit/service_metrics.h"

#include "common/metrics/process.h"
#include "services/kit/pg_pool.h"

namespace kit {

void ServiceMetrics::requestFinished(std::string_view route, std::string_view method, int status,
                                     double seconds) {
  --in_flight_;
  std::string route_label(route.empty() ? "unmatched" : route);
  ++requests_[std::make_tuple(route_label, std::string(method), status)];
  Latency& l = latency_[route_label];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) {
    ++i;
  }
  ++l.counts[i];
  l.sum += seconds;
}

std::string ServiceMetrics::render() const {
  metrics::Exposition out;
  const metrics::Label service{"service", service_};

  out.family("service_requests_total", "counter", "Requests answered, by route pattern, method and status code.");
  for (const auto& [key, count] : requests_) {
    std::string code = std::to_string(std::get<2>(key));
    metrics::Label labels[] = {service, {"route", std::get<0>(key)}, {"method", std::get<1>(key)},
                               {"code", code}};
    out.sample("service_requests_total", labels, static_cast<double>(count));
  }
  out.family("service_request_duration_seconds", "histogram", "Time from a request's last byte to its answer, by route pattern.");
  for (const auto& [route, l] : latency_) {
    metrics::Label labels[] = {service, {"route", route}};
    out.histogram("service_request_duration_seconds", labels, kBuckets, l.counts, l.sum);
  }
  out.family("service_requests_in_flight", "gauge", "Requests received and not yet answered.");
  out.sample("service_requests_in_flight", {service}, static_cast<double>(in_flight_));

  if (pool_ != nullptr) {
    const PgPool::Stats& s = pool_->stats();
    out.family("service_db_pool_connections", "gauge", "Database connections in the pool, by state.");
    out.sample("service_db_pool_connections", {service, {"state", "busy"}}, s.busy);
    out.sample("service_db_pool_connections", {service, {"state", "idle"}}, s.size - s.busy);
    out.family("service_db_pool_waiting", "gauge", "Queries waiting for a free connection.");
    out.sample("service_db_pool_waiting", {service}, static_cast<double>(s.waiting));
    out.family("service_db_pool_waits_total", "counter", "Queries that found every connection busy and waited.");
    out.sample("service_db_pool_waits_total", {service}, static_cast<double>(s.waits));
    out.family("service_db_pool_wait_seconds_total", "counter", "Time queries spent waiting for a connection.");
    out.sample("service_db_pool_wait_seconds_total", {service}, s.wait_seconds_total);
    out.family("service_db_queries_total", "counter", "Database operations run (each may be a transaction).");
    out.sample("service_db_queries_total", {service}, static_cast<double>(s.queries));
    out.family("service_db_failures_total", "counter", "Database operations that failed.");
    out.sample("service_db_failures_total", {service}, static_cast<double>(s.failures));
    out.family("service_db_up", "gauge", "1 when the last database operation reached the server.");
    out.sample("service_db_up", {service}, s.up ? 1 : 0);
  }
  if (redis_up_) {
    out.family("service_redis_up", "gauge", "1 while the Redis connection is up.");
    out.sample("service_redis_up", {service}, redis_up_() ? 1 : 0);
  }
  for (const auto& collect : collectors_) {
    collect(out);
  }

  metrics::writeProcessMetrics(out);
  return out.take();
}

}  // namespace kit
