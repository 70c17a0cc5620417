#include "balancer/exchange/background_exchange.h"

#include "balancer/worker/worker.h"
#include "common/log/log.h"

namespace balancer {

void BackgroundExchange::launch(const ExchangeEnv& like, const Snapshot* snapshot,
                                WorkerMetrics* metrics, std::string head,
                                std::function<void()> done) {
  auto* self = new BackgroundExchange(like, snapshot, metrics, std::move(head), std::move(done));
  self->env_.worker->backgroundOpened(self, snapshot);
  uv_timer_init(self->env_.worker->loop(), &self->timer_);
  self->timer_.data = self;
  uv_timer_start(
      &self->timer_, [](uv_timer_t* timer) { static_cast<BackgroundExchange*>(timer->data)->start(); },
      0, 0);
}

BackgroundExchange::BackgroundExchange(const ExchangeEnv& like, const Snapshot* snapshot,
                                       WorkerMetrics* metrics, std::string head,
                                       std::function<void()> done)
    : head_(std::move(head)),
      done_callback_(std::move(done)),
      client_ip_(like.client_ip),
      services_(like.worker),
      snapshot_(snapshot),
      metrics_(metrics),
      env_(like),
      parser_(http::Parser::Kind::kRequest, this, like.worker->requestLimits()) {
  env_.services = &services_;
  env_.buffers = &buffers_;
  env_.record = &record_;
  env_.request = &parser_;
  env_.client_ip = client_ip_;
  env_.tls_version = {};
  parser_.attachHead(&buffers_.request_head);
}

BackgroundExchange::~BackgroundExchange() = default;

void BackgroundExchange::start() {
  started_ = true;
  if (done_) {  // aborted before its turn came (the worker is stopping)
    finish();
    return;
  }
  record_.begin(uv_hrtime());
  if (parser_.execute(head_.data(), head_.size()).status == http::Parser::Status::kError ||
      !exchange_) {
    LOG_WARN("background request not parsed: %s", parser_.errorReason());
    finish();
  }
}

int BackgroundExchange::onHeadersComplete() {
  record_.head = true;
  env_.worker->newRequestId(&buffers_.request_id);
  ExchangeStart start;
  start.snapshot = snapshot_;
  start.metrics = metrics_;
  start.background = true;
  exchange_.emplace(this, &env_, start, 1);
  exchange_->start();
  return done_ ? -1 : 0;
}

int BackgroundExchange::onMessageComplete() {
  if (exchange_ && !done_) {
    exchange_->onRequestComplete();
    // Answered by a filter before the request was read whole: nothing more will come.
    if (exchange_->local() && !exchange_->localBodyPending()) {
      finish();
    }
  }
  return kPause;
}

void BackgroundExchange::abort() { finish(); }  // as a closed connection: see finish()

void BackgroundExchange::finish() {
  done_ = true;  // closed() from now on: the exchange writes nothing more
  if (!started_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) {
    return;  // the start timer is still due (it finds done_), or the free is under way
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
    auto* self = static_cast<BackgroundExchange*>(handle->data);
    if (self->exchange_ && self->exchange_->active()) {
      self->exchange_->onConnectionClosed(502);  // aborted (its upstream broke off): logged
    }
    self->exchange_.reset();
    self->env_.worker->backgroundClosed(self, self->snapshot_);
    if (self->done_callback_) {
      self->done_callback_();
    }
    delete self;
  });
}

}  // namespace balancer
