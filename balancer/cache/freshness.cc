#include "balancer/cache/freshness.h"

#include <algorithm>

#include "common/http/date.h"

namespace balancer::cache {

namespace {

std::optional<int64_t> dateField(const Fields& headers, std::string_view name) {
  bool found = false;
  std::string value = combinedValue(headers, name, &found);
  return found ? http::parseHttpDateAnyCase(value) : std::nullopt;
}

// Age: the first member of a list, ignored when not a non-negative integer (RFC 9111 5.1).
int64_t ageField(const Fields& headers) {
  std::string value = combinedValue(headers, "age");
  std::vector<std::string_view> members = splitList(value);
  if (members.empty()) {
    return 0;
  }
  int64_t age = 0;
  for (char c : members.front()) {
    if (c < '0' || c > '9') {
      return 0;
    }
    age = std::min<int64_t>(age * 10 + (c - '0'), int64_t{1} << 31);
  }
  return age;
}

bool staleForbidden(const CacheControl& response) {
  return response.must_revalidate || response.proxy_revalidate || response.s_maxage.present ||
         response.no_cache;
}

}  // namespace

ResponseTimes readResponseTimes(const Fields& response_headers, int64_t request_ms,
                                int64_t response_ms) {
  ResponseTimes t;
  t.request_ms = request_ms;
  t.response_ms = response_ms;
  t.date_s = dateField(response_headers, "date");
  t.age_s = ageField(response_headers);
  combinedValue(response_headers, "expires", &t.has_expires);
  if (t.has_expires) {
    t.expires_s = dateField(response_headers, "expires");
  }
  t.last_modified_s = dateField(response_headers, "last-modified");
  return t;
}

bool heuristicallyCacheable(int status) {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

bool hasExplicitFreshness(const CacheControl& cc, const ResponseTimes& times) {
  return cc.s_maxage.present || cc.max_age.present || (times.has_expires && !cc.targeted);
}

int64_t freshnessLifetimeMs(int status, const CacheControl& cc, const ResponseTimes& times,
                            const HeuristicPolicy& policy, bool* heuristic) {
  if (heuristic != nullptr) {
    *heuristic = false;
  }
  if (cc.conflicting) {
    return 0;
  }
  if (cc.s_maxage.present) {
    return cc.s_maxage.valid ? cc.s_maxage.seconds * 1000 : 0;
  }
  if (cc.max_age.present) {
    return cc.max_age.valid ? cc.max_age.seconds * 1000 : 0;
  }
  // Expires - Date, or the time of receipt without a Date.
  const int64_t date_s = times.date_s.value_or(times.response_ms / 1000);
  if (times.has_expires && !cc.targeted) {  // CDN-Cache-Control replaces Expires too
    if (!times.expires_s) {
      return 0;
    }
    return std::max<int64_t>(0, *times.expires_s - date_s) * 1000;
  }
  if (!heuristicallyCacheable(status) && !cc.is_public) {
    return 0;
  }
  int64_t lifetime_ms = 0;
  if (times.last_modified_s && *times.last_modified_s < date_s) {
    double since_ms = static_cast<double>(date_s - *times.last_modified_s) * 1000.0;
    lifetime_ms = static_cast<int64_t>(since_ms * policy.last_modified_fraction);
    lifetime_ms = std::min(lifetime_ms, policy.cap_s * 1000);
  } else {
    lifetime_ms = policy.default_ttl_s * 1000;
  }
  if (heuristic != nullptr) {
    *heuristic = lifetime_ms > 0;
  }
  return lifetime_ms;
}

int64_t currentAgeMs(const ResponseTimes& times, int64_t now_ms) {
  int64_t apparent_age_ms = 0;
  if (times.date_s) {
    apparent_age_ms = std::max<int64_t>(0, times.response_ms - *times.date_s * 1000);
  }
  const int64_t response_delay_ms = std::max<int64_t>(0, times.response_ms - times.request_ms);
  const int64_t corrected_age_value_ms = times.age_s * 1000 + response_delay_ms;
  const int64_t corrected_initial_age_ms = std::max(apparent_age_ms, corrected_age_value_ms);
  const int64_t resident_time_ms = std::max<int64_t>(0, now_ms - times.response_ms);
  return corrected_initial_age_ms + resident_time_ms;
}

Reuse decideReuse(const CacheControl& request, const CacheControl& response, int64_t lifetime_ms,
                  int64_t age_ms) {
  if (request.no_cache || response.no_cache) {
    return Reuse::kValidate;
  }
  if (request.max_age.usable() && age_ms > request.max_age.seconds * 1000) {
    return Reuse::kValidate;
  }
  if (lifetime_ms > age_ms) {
    if (request.min_fresh.usable() && lifetime_ms - age_ms < request.min_fresh.seconds * 1000) {
      return Reuse::kValidate;
    }
    return Reuse::kFresh;
  }
  if (staleForbidden(response)) {
    return Reuse::kValidate;
  }
  const int64_t staleness_ms = age_ms - lifetime_ms;
  if (request.max_stale) {
    if (!request.max_stale_limit.present ||
        (request.max_stale_limit.valid &&
         staleness_ms <= request.max_stale_limit.seconds * 1000)) {
      return Reuse::kStale;
    }
  }
  if (response.stale_while_revalidate.usable() &&
      staleness_ms <= response.stale_while_revalidate.seconds * 1000) {
    return Reuse::kStaleWhileRevalidate;
  }
  return Reuse::kValidate;
}

bool usableOnError(const CacheControl& request, const CacheControl& response,
                   int64_t lifetime_ms, int64_t age_ms) {
  if (lifetime_ms > age_ms && !response.no_cache) {
    return true;
  }
  if (staleForbidden(response)) {
    return false;
  }
  const int64_t staleness_ms = age_ms - lifetime_ms;
  for (const CacheControl* cc : {&response, &request}) {
    if (cc->stale_if_error.usable() && staleness_ms <= cc->stale_if_error.seconds * 1000) {
      return true;
    }
  }
  return false;
}

}  // namespace balancer::cache
