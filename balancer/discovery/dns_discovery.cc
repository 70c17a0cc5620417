#include "balancer/discovery/dns_discovery.h"

#include <netdb.h>

#include "balancer/control/control.h"
#include "balancer/snapshot.h"
#include "common/log/log.h"
#include "common/metrics/exposition.h"
#include "common/util/address.h"

namespace balancer {

// One named backend of one upstream, with the addresses it added (and so may drain).
struct DnsDiscovery::Entry {
  DnsDiscovery* owner = nullptr;
  std::string upstream;
  std::string text;  // "host:port" as written: the entry's identity across reloads
  std::string host;
  std::string port;
  int weight = 1;
  uint64_t refresh_ms = 5000;
  std::set<std::string> owned;

  uv_timer_t timer{};
  uv_getaddrinfo_t request{};
  bool looking = false;
  bool retired = false;
  bool timer_closed = false;
  int last_error = 0;  // of the previous lookup, so a lasting failure is logged once

  uint64_t ok = 0;
  uint64_t nxdomain = 0;
  uint64_t failed = 0;
};

DnsDiscovery::DnsDiscovery(uv_loop_t* loop, Control* control) : loop_(loop), control_(control) {}

DnsDiscovery::~DnsDiscovery() { stop(); }

void DnsDiscovery::start(const Snapshot& snapshot) { retarget(snapshot); }

void DnsDiscovery::stop() {
  for (Entry* e : entries_) {
    retire(e);
  }
  entries_.clear();
}

void DnsDiscovery::retarget(const Snapshot& snapshot) {
  std::vector<Entry*> kept;
  std::vector<Entry*> old;
  old.swap(entries_);
  for (const auto& u : snapshot.upstreams()) {
    for (const DnsBackendConfig& d : u->config->dns_backends) {
      Entry* same = nullptr;
      for (Entry*& e : old) {
        if (e != nullptr && e->upstream == u->config->name && e->text == d.text) {
          same = e;
          e = nullptr;
          break;
        }
      }
      auto refresh = static_cast<uint64_t>(u->config->dns_refresh.count());
      if (same == nullptr) {
        add(u->config->name, d.text, d.host, d.port, d.weight, refresh);
        continue;
      }
      same->weight = d.weight;
      same->refresh_ms = refresh;
      entries_.push_back(same);
    }
  }
  for (Entry* e : old) {
    if (e != nullptr) {
      retire(e);
    }
  }
}

void DnsDiscovery::add(const std::string& upstream, const std::string& text,
                       const std::string& host, int port, int weight, uint64_t refresh_ms) {
  auto* e = new Entry;
  e->owner = this;
  e->upstream = upstream;
  e->text = text;
  e->host = host;
  e->port = std::to_string(port);
  e->weight = weight;
  e->refresh_ms = refresh_ms;
  uv_timer_init(loop_, &e->timer);
  e->timer.data = e;
  e->request.data = e;
  entries_.push_back(e);
  lookUp(e);
}

void DnsDiscovery::retire(Entry* e) {
  e->retired = true;
  if (e->looking) {
    uv_cancel(reinterpret_cast<uv_req_t*>(&e->request));  // its callback still runs
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&e->timer), [](uv_handle_t* h) {
    auto* entry = static_cast<Entry*>(h->data);
    entry->timer_closed = true;
    release(entry);
  });
}

void DnsDiscovery::release(Entry* e) {
  if (e->retired && e->timer_closed && !e->looking) {
    delete e;
  }
}

void DnsDiscovery::onTimer(uv_timer_t* timer) {
  auto* e = static_cast<Entry*>(timer->data);
  e->owner->lookUp(e);
}

void DnsDiscovery::lookUp(Entry* e) {
  addrinfo hints{};
  hints.ai_family = AF_INET;  // A records, as Kubernetes' headless Services answer
  hints.ai_socktype = SOCK_STREAM;
  int r = uv_getaddrinfo(loop_, &e->request, &DnsDiscovery::onResolved, e->host.c_str(),
                         e->port.c_str(), &hints);
  if (r != 0) {
    LOG_WARN("dns: upstream=%s name=%s cannot start a lookup: %s", e->upstream.c_str(),
             e->text.c_str(), uv_strerror(r));
    uv_timer_start(&e->timer, &DnsDiscovery::onTimer, e->refresh_ms, 0);
    return;
  }
  e->looking = true;
}

void DnsDiscovery::onResolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
  auto* e = static_cast<Entry*>(request->data);
  e->looking = false;
  if (e->retired) {
    uv_freeaddrinfo(result);
    release(e);
    return;
  }
  Outcome outcome = outcomeOf(status);
  bool no_such_name = outcome == Outcome::kNoSuchName;
  if (outcome != Outcome::kFailed) {
    std::set<std::string> found;
    for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
      found.insert(util::formatAddress(a->ai_addr));
    }
    uv_freeaddrinfo(result);
    (status == 0 ? e->ok : e->nxdomain) += 1;
    if (no_such_name && e->last_error != status) {
      LOG_WARN("dns: upstream=%s name=%s does not exist (%s): no backends from it",
               e->upstream.c_str(), e->text.c_str(), uv_strerror(status));
    }
    e->last_error = status;
    e->owner->apply(e, found);
  } else {
    e->failed += 1;
    if (e->last_error != status) {
      LOG_WARN("dns: upstream=%s name=%s lookup failed (%s): keeping its %zu backends",
               e->upstream.c_str(), e->text.c_str(), uv_strerror(status), e->owned.size());
    }
    e->last_error = status;
    uv_freeaddrinfo(result);
  }
  uv_timer_start(&e->timer, &DnsDiscovery::onTimer, e->refresh_ms, 0);
}

DnsDiscovery::Outcome DnsDiscovery::outcomeOf(int uv_status) {
  if (uv_status == 0) {
    return Outcome::kFound;
  }
  // The resolver's authoritative "no such name" / "no address": the name is gone for real.
  if (uv_status == UV_EAI_NONAME || uv_status == UV_EAI_NODATA) {
    return Outcome::kNoSuchName;
  }
  return Outcome::kFailed;  // EAI_AGAIN (timeout, SERVFAIL), EAI_FAIL, memory, cancelled...
}

void DnsDiscovery::apply(Entry* e, const std::set<std::string>& found) {
  size_t added = 0;
  size_t removed = 0;
  for (const std::string& address : found) {
    if (e->owned.count(address) != 0) {
      continue;
    }
    // 409: the YAML or the admin API already has it (or drains it, or removed it): not ours.
    if (control_->addBackend(e->upstream, address, e->weight, Control::Origin::kDns).status ==
        201) {
      e->owned.insert(address);
      ++added;
    }
  }
  for (auto it = e->owned.begin(); it != e->owned.end();) {
    if (found.count(*it) != 0) {
      ++it;
      continue;
    }
    control_->removeBackend(e->upstream, *it, Control::Origin::kDns);
    it = e->owned.erase(it);
    ++removed;
  }
  if (added + removed > 0) {
    LOG_INFO("dns: upstream=%s name=%s backends=%zu (+%zu -%zu)", e->upstream.c_str(),
             e->text.c_str(), e->owned.size(), added, removed);
  }
}

void DnsDiscovery::carryInto(const Snapshot& old, Snapshot& next) const {
  auto findUpstream = [](const Snapshot& s, const std::string& name) -> Upstream* {
    for (const auto& u : s.upstreams()) {
      if (u->config->name == name) {
        return u.get();
      }
    }
    return nullptr;
  };
  for (const Entry* e : entries_) {
    const Upstream* from = findUpstream(old, e->upstream);
    Upstream* to = findUpstream(next, e->upstream);
    if (from == nullptr || to == nullptr || e->owned.empty()) {
      continue;
    }
    const DnsBackendConfig* same = nullptr;
    for (const DnsBackendConfig& d : to->config->dns_backends) {
      same = d.text == e->text ? &d : same;
    }
    if (same == nullptr) {
      continue;  // the name left the configuration: its backends leave with the old snapshot
    }
    auto previous = from->backends();
    auto set = std::make_shared<BackendSet>(*to->backends());
    for (const std::string& address : e->owned) {
      std::shared_ptr<Backend> b = previous->find(address);
      if (!b || set->find(address)) {
        continue;
      }
      b->weight.store(same->weight);
      if (b->slow_start_begin_ms.load() == 0) {
        b->effective_weight.store(same->weight * Backend::kWeightScale);
      }
      set->view.push_back(b.get());
      set->backends.push_back(std::move(b));
    }
    to->publish(std::move(set));
  }
}

void DnsDiscovery::renderMetrics(metrics::Exposition& out) const {
  out.family("balancer_dns_lookups_total", "counter",
             "Lookups of backends named by host, by result (nxdomain empties the name's "
             "backends; error keeps them).");
  for (const Entry* e : entries_) {
    const std::pair<const char*, uint64_t> results[] = {
        {"ok", e->ok}, {"nxdomain", e->nxdomain}, {"error", e->failed}};
    for (const auto& [result, count] : results) {
      out.sample("balancer_dns_lookups_total",
                 {{"upstream", e->upstream}, {"name", e->text}, {"result", result}},
                 static_cast<double>(count));
    }
  }
  out.family("balancer_dns_backends", "gauge", "Backends found by a name's last lookup.");
  for (const Entry* e : entries_) {
    out.sample("balancer_dns_backends", {{"upstream", e->upstream}, {"name", e->text}},
               static_cast<double>(e->owned.size()));
  }
}

}  // namespace balancer
