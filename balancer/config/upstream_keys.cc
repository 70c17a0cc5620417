// upstreams.NAME: a group of backends, how one is picked, checked, timed and pooled.

#include "balancer/config/sections.h"

#include <set>

namespace balancer::config {

namespace {

// A backends[] item as written; it becomes a BackendConfig or, when its address names a
// host, a DnsBackendConfig.
struct BackendEntry {
  std::string address;
  int weight = 1;
};

const Section<BackendEntry>& backendKeys() {
  using T = BackendEntry;
  static const Section<T> keys{"backend", "backend ", {
      text("address", &T::address, "IP:port, or host:port looked up every dns_refresh")
          .required("an address"),
      count("weight", &T::weight, 1, 1000, "its share of requests"),
  }};
  return keys;
}

// Each item is a backend of the upstream (an address) or a name to look up (a host).
Key<UpstreamConfig> backends() {
  auto read = [](Reader& r, const YAML::Node& v, const At& at, UpstreamConfig& out) {
    if (!v.IsSequence()) {
      r.error(v, at.label + " must be a list");
      return;
    }
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto& node : v) {
      BackendEntry entry;
      backendKeys().read(r, node, at.path + "[" + std::to_string(i++) + "]", entry);
      if (!node.IsMap() || !node["address"] || !node["address"].IsScalar()) {
        continue;  // reported
      }
      const YAML::Node address = node["address"];
      if (!seen.insert(entry.address).second) {
        r.error(address, "duplicate backend '" + entry.address + "'");
      }
      if (auto dns = util::parseDnsHostPort(entry.address)) {
        // looked up at run time (balancer/discovery)
        out.dns_backends.push_back({dns->host, dns->port, entry.weight, entry.address});
      } else if (auto a = r.address(address, "backend address")) {
        out.backends.push_back({*a, entry.weight});
      }
    }
  };
  return {"backends", "list", "{address, weight}", read, nullptr, "[]",
          [] { return backendKeys().declare(); }};
}

const Section<HealthCheckConfig>& healthCheckKeys() {
  using T = HealthCheckConfig;
  static const Section<T> keys{"health_check", "health_check.", {
      urlPath("path", &T::path, "probed with GET; 2xx is healthy"),
      duration("interval", &T::interval, "between two probes"),
      duration("timeout", &T::timeout, "a slower answer is a failure"),
      count("healthy_threshold", &T::healthy_threshold, 1, 100,
            "successes in a row that bring a backend up"),
      count("unhealthy_threshold", &T::unhealthy_threshold, 1, 100,
            "failures in a row that take a backend down"),
  }};
  return keys;
}

const Section<OutlierConfig>& outlierKeys() {
  using T = OutlierConfig;
  static const Section<T> keys{"outlier_detection", "outlier_detection.", {
      count("consecutive_failures", &T::consecutive_failures, 1, 1000,
            "5xx or connect failures in a row that eject a backend"),
      duration("base_ejection_time", &T::base_ejection_time,
               "the first ejection; each next one doubles"),
      duration("max_ejection_time", &T::max_ejection_time, "the longest ejection"),
      count("max_ejection_percent", &T::max_ejection_percent, 0, 100,
            "at most this share of the backends ejected at once"),
  }};
  return keys;
}

const Section<PoolConfig>& poolKeys() {
  using T = PoolConfig;
  static const Section<T> keys{"pool", "pool.", {
      countOrAuto("max_idle", &T::max_idle, 0, 100000,
                  "idle connections kept per backend and worker; auto: the recent peak"),
      duration("idle_timeout", &T::idle_timeout, "an idle connection closes after this"),
  }};
  return keys;
}

}  // namespace

const Section<UpstreamConfig>& upstreamKeys() {
  using T = UpstreamConfig;
  static const Section<T> keys{"upstream", "", {
      choice("balance", &T::balance,
             {{"round_robin", BalanceKind::kRoundRobin},
              {"least_conn", BalanceKind::kLeastConn},
              {"p2c", BalanceKind::kP2C}},
             "how a backend is picked"),
      backends().required("backends"),
      duration("dns_refresh", &T::dns_refresh, "how often named backends are looked up",
               Millis{100}),
      optionalSection("health_check", &T::health_check, healthCheckKeys, "active checks")
          .shownAs("none"),
      duration("connect_timeout", &T::connect_timeout, "connecting to a backend"),
      duration("request_timeout", &T::request_timeout, "request sent to response head; then 504"),
      duration("read_timeout", &T::read_timeout,
               "longest gap between two reads of a response once its head came"),
      count("retries", &T::retries, 0, 10,
            "on another backend, after a failed connect or a 502/503 to an idempotent request"),
      section("pool", &T::pool, poolKeys, "idle keep-alive connections"),
      optionalSection("outlier_detection", &T::outlier_detection, outlierKeys,
                      "passive ejection of failing backends")
          .shownAs("off"),
      duration("slow_start", &T::slow_start,
               "a returning or added backend ramps its weight over this; 0: off"),
  }};
  return keys;
}

}  // namespace balancer::config
