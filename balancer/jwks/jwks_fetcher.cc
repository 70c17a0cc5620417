#include "balancer/jwks/jwks_fetcher.h"

#include <algorithm>
#include <ctime>

#include "balancer/cache/cache_control.h"
#include "balancer/jwks/http_fetch.h"
#include "common/log/log.h"

namespace balancer::jwks {

namespace {
constexpr Millis kFirstRetry{1000};
constexpr Millis kMaxUnknownKidRate{5000};  // at most one unknown-kid fetch per this
}  // namespace

Millis refreshAfter(std::string_view cache_control, Millis min, Millis max) {
  cache::CacheControl cc = cache::parseCacheControl(cache_control);
  if (cc.no_cache || cc.no_store) {
    return min;
  }
  if (!cc.max_age.usable()) {
    return cc.max_age.present ? min : max;
  }
  return std::clamp(Millis(cc.max_age.seconds * 1000), min, max);
}

JwksFetcher::JwksFetcher(FetcherSettings settings, JwksStats* stats)
    : settings_(std::move(settings)), stats_(stats) {}

JwksFetcher::~JwksFetcher() { stop(); }

void JwksFetcher::start(Publish publish) {
  {
    std::lock_guard lock(mutex_);
    publish_ = std::move(publish);
  }
  thread_ = std::thread([this] { run(); });
}

void JwksFetcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void JwksFetcher::setPublish(Publish publish) {
  std::lock_guard lock(mutex_);
  publish_ = std::move(publish);
  publish_(keys_);
}

void JwksFetcher::refetchSoon() {
  if (refetch_wanted_.exchange(true)) {
    return;  // already asked: a flood of unknown kids costs one atomic each
  }
  // Through the lock, so the wake-up cannot fall between run()'s check and its wait.
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
}

void JwksFetcher::run() {
  Clock::time_point last_fetch = Clock::now();
  Clock::time_point due = last_fetch + fetchOnce();
  const Clock::duration unknown_kid_gap = std::min<Clock::duration>(
      kMaxUnknownKidRate, settings_.refresh_min);
  std::unique_lock lock(mutex_);
  while (!stopping_.load()) {
    Clock::time_point wake_at = due;
    if (refetch_wanted_.load()) {
      wake_at = std::min(due, last_fetch + unknown_kid_gap);
    }
    if (Clock::now() < wake_at) {
      // Wakes for stop(), a refetch request, or the time.
      wake_.wait_until(lock, wake_at);
      continue;
    }
    lock.unlock();
    refetch_wanted_.store(false);
    last_fetch = Clock::now();
    due = last_fetch + fetchOnce();
    lock.lock();
  }
}

JwksFetcher::Clock::duration JwksFetcher::fetchOnce() {
  FetchRequest request;
  request.url = settings_.url;
  request.ca_file = settings_.ca_file;
  request.timeout = settings_.timeout;
  request.abort = &stopping_;
  FetchResult result = httpGet(request);
  std::string error = result.error;
  std::optional<jwt::KeySet> parsed;
  if (result.ok) {
    parsed = jwt::KeySet::parse(result.body, &error);
  }
  if (!parsed) {
    if (stopping_.load()) {
      return {};
    }
    stats_->fetches_error.fetch_add(1);
    failure_backoff_ = failure_backoff_ == Clock::duration{}
                           ? Clock::duration(kFirstRetry)
                           : std::min<Clock::duration>(failure_backoff_ * 2, settings_.refresh_min);
    LOG_WARN("jwt: fetching %s: %s; %s", settings_.url.c_str(), error.c_str(),
             stats_->keys.load() > 0 ? "keeping the last good keys" : "no keys yet");
    return failure_backoff_;
  }
  failure_backoff_ = {};
  stats_->fetches_ok.fetch_add(1);
  stats_->last_success_seconds.store(static_cast<int64_t>(time(nullptr)));
  Millis next = refreshAfter(result.cache_control, settings_.refresh_min, settings_.refresh_max);
  if (result.body == last_body_) {
    return next;  // the same keys: the workers keep their verifier and its token cache
  }
  last_body_ = std::move(result.body);
  auto keys = std::make_shared<const jwt::KeySet>(std::move(*parsed));
  size_t count = keys->size();
  {
    std::lock_guard lock(mutex_);
    keys_ = keys;
    if (publish_) {
      publish_(keys_);
    }
  }
  stats_->keys.store(static_cast<int64_t>(count));
  LOG_INFO("jwt: %zu keys from %s; next fetch in %llds", count, settings_.url.c_str(),
           static_cast<long long>(next.count() / 1000));
  return next;
}

}  // namespace balancer::jwks
