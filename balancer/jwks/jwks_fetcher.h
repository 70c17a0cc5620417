#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "balancer/jwks/jwks_stats.h"
#include "common/jwt/key_set.h"

namespace balancer::jwks {

using Millis = std::chrono::milliseconds;

struct FetcherSettings {
  std::string url;
  std::string ca_file;  // empty: the system store
  Millis refresh_min{30000};
  Millis refresh_max{3600000};
  Millis timeout{10000};  // one fetch, connection included

  bool operator==(const FetcherSettings&) const = default;
};

// How long keys fetched with this Cache-Control are used: max-age clamped to [min, max];
// `min` for no-cache, no-store or a max-age of 0, `max` when no max-age is given (an unknown
// kid refetches sooner anyway).
Millis refreshAfter(std::string_view cache_control, Millis min, Millis max);

// Keeps a JWKS fetched from a URL current, on a thread of its own so no event loop waits for
// the network. Fetches at once, then again when the set's max-age (clamped) runs out. A
// failed fetch, a non-200 answer or a body that is not a valid JWKS keeps the last good set
// and is retried after 1s, 2s, 4s... up to refresh_min. refetchSoon() (a token named an
// unknown kid: the keys may have rotated) fetches early, at most once per
// min(5s, refresh_min). Each good set goes to `publish`, on the fetcher's thread.
class JwksFetcher {
 public:
  using Publish = std::function<void(std::shared_ptr<const jwt::KeySet>)>;

  JwksFetcher(FetcherSettings settings, JwksStats* stats);
  ~JwksFetcher();  // stop()
  JwksFetcher(const JwksFetcher&) = delete;
  JwksFetcher& operator=(const JwksFetcher&) = delete;

  // Starts the thread; the first fetch begins at once.
  void start(Publish publish);
  // Ends the thread, aborting a fetch in flight. Idempotent.
  void stop();
  // Replaces where good sets go and hands it the current one (null before the first).
  void setPublish(Publish publish);
  // Asks for an early fetch; cheap and callable from any thread.
  void refetchSoon();

  const FetcherSettings& settings() const { return settings_; }

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  // One fetch; returns when the next one is due.
  Clock::duration fetchOnce();

  const FetcherSettings settings_;
  JwksStats* stats_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> refetch_wanted_{false};  // lets refetchSoon() skip the lock when set
  std::mutex mutex_;
  std::condition_variable wake_;
  Publish publish_;                           // under mutex_
  std::shared_ptr<const jwt::KeySet> keys_;   // under mutex_
  Clock::duration failure_backoff_{};  // fetcher thread only, as is last_body_
  std::string last_body_;              // of the set in use
};

}  // namespace balancer::jwks
