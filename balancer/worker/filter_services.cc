#include "balancer/worker/filter_services.h"

#include "balancer/worker/worker.h"

namespace balancer {

const jwt::Verifier* WorkerFilterServices::verifier() { return worker_->verifier(); }
jwt::TokenCache& WorkerFilterServices::tokenCache() { return worker_->tokenCache(); }
void WorkerFilterServices::refetchKeys() { worker_->refetchKeys(); }
rate_limit::LocalLimiter& WorkerFilterServices::localLimiter() {
  return worker_->shared().localLimiter();
}
rate_limit::RedisLimiter* WorkerFilterServices::redisLimiter() { return worker_->redisLimiter(); }
void WorkerFilterServices::countRateLimitUnavailable() { worker_->countRateLimitUnavailable(); }
uv_loop_t* WorkerFilterServices::loop() { return worker_->loop(); }
compression::EncoderPool& WorkerFilterServices::encoderPool() { return worker_->encoderPool(); }
static_files::OpenFileCache* WorkerFilterServices::openFiles() { return &worker_->openFiles(); }

}  // namespace balancer
