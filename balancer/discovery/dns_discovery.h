#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace metrics {
class Exposition;
}

namespace balancer {

class Control;
class Snapshot;

// Backends named by host ("product.shop.svc.cluster.local:7101"): each name is looked up at
// start and then every upstream's dns_refresh; each address found becomes a backend of the
// upstream (through Control, so it is health-checked like any other) and each address gone
// is drained. Lookups go through getaddrinfo on libuv's thread pool, so /etc/hosts, search
// domains and resolv.conf apply as for any program on the host or pod.
//
// A name that does not exist (NXDOMAIN: a headless Service with no ready pod) empties the
// entry; any other failure (timeout, SERVFAIL) keeps the addresses found last, as Envoy's
// STRICT_DNS does: a flaky resolver must not take an upstream down.
//
// Lives on the main loop, beside Control; everything here runs on that loop.
class DnsDiscovery {
 public:
  DnsDiscovery(uv_loop_t* loop, Control* control);
  ~DnsDiscovery();
  DnsDiscovery(const DnsDiscovery&) = delete;
  DnsDiscovery& operator=(const DnsDiscovery&) = delete;

  // Looks up every named backend of `snapshot` now, then every dns_refresh.
  void start(const Snapshot& snapshot);
  // Stops the timers; lookups in flight finish and are ignored.
  void stop();

  // SIGHUP, before any worker sees `next`: the backends found for names that `next` keeps
  // (same upstream, same host:port) are put into it, the same objects, so a reload neither
  // empties an upstream until the next lookup nor resets their health.
  void carryInto(const Snapshot& old, Snapshot& next) const;
  // SIGHUP, after the commit: the names of the new snapshot; kept names keep their addresses
  // and their schedule, new ones are looked up at once, removed ones stop.
  void retarget(const Snapshot& snapshot);

  // balancer_dns_lookups_total{upstream,name,result} and balancer_dns_backends{upstream,name}.
  void renderMetrics(metrics::Exposition& out) const;

  // What a lookup's libuv status means for the name's backends.
  enum class Outcome { kFound, kNoSuchName, kFailed };
  static Outcome outcomeOf(int uv_status);

 private:
  struct Entry;

  static void onTimer(uv_timer_t* timer);
  static void onResolved(uv_getaddrinfo_t* request, int status, addrinfo* result);
  static void release(Entry* entry);  // frees a retired entry once its handles are done

  void add(const std::string& upstream, const std::string& text, const std::string& host,
           int port, int weight, uint64_t refresh_ms);
  void retire(Entry* entry);
  void lookUp(Entry* entry);
  void apply(Entry* entry, const std::set<std::string>& found);

  uv_loop_t* loop_;
  Control* control_;
  std::vector<Entry*> entries_;  // live ones; retired ones free themselves
};

}  // namespace balancer
