#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace balancer::jwks {

struct FetchRequest {
  std::string url;
  std::string ca_file;  // empty: the system's trust store
  std::chrono::milliseconds timeout{10000};
  size_t max_body_bytes = 1 << 20;
  // Set from another thread: the transfer gives up at its next progress callback.
  const std::atomic<bool>* abort = nullptr;
};

struct FetchResult {
  bool ok = false;     // a complete 200 response
  std::string error;   // why not, when !ok
  std::string body;
  std::string cache_control;  // the Cache-Control field(s), joined with ", "
};

// One blocking GET with libcurl (call it off every event loop): TLS peer and host name
// verified, no redirects followed, no proxy from the environment, the body capped.
FetchResult httpGet(const FetchRequest& request);

}  // namespace balancer::jwks
