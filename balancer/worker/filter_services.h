#pragma once

#include "balancer/filters/filter.h"

namespace balancer {

class Worker;

// A worker's services as its sessions' filters see them.
class WorkerFilterServices final : public filters::FilterServices {
 public:
  explicit WorkerFilterServices(Worker* worker) : worker_(worker) {}
  const jwt::Verifier* verifier() override;
  jwt::TokenCache& tokenCache() override;
  void refetchKeys() override;
  rate_limit::LocalLimiter& localLimiter() override;
  rate_limit::RedisLimiter* redisLimiter() override;
  void countRateLimitUnavailable() override;
  uv_loop_t* loop() override;
  compression::EncoderPool& encoderPool() override;
  static_files::OpenFileCache* openFiles() override;

 private:
  Worker* worker_;
};

}  // namespace balancer
