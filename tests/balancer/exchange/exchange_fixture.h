#pragma once

// One Exchange on a FakeCodec, with everything it runs in but a socket: a snapshot of a
// static-only config (its routes answer from files, so no upstream is needed), a worker that
// is built and never started (the exchange asks it for ids, its metrics and the log's
// scratch), filter services on a real libuv loop of the test's own (the static route's file
// lookups and reads run on its thread pool), and the request parsed from text. It plays the
// HTTP/1.1 session's part around the exchange: begins the record, makes the exchange when the
// head is read, tells it the request is complete, and ends a locally answered one.

#include <dirent.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "../static_files/temp_tree.h"
#include "balancer/access_log/exchange_record.h"
#include "balancer/config.h"
#include "balancer/exchange/exchange.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/rate_limit/local_limiter.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/compress/encoder_pool.h"
#include "common/jwt/token_cache.h"
#include "fake_codec.h"

namespace exchange_test {

// A worker's filter services without a worker: no keys, no Redis, a loop of the test's.
class LoopServices final : public balancer::filters::FilterServices {
 public:
  LoopServices() { REQUIRE(uv_loop_init(&loop_) == 0); }
  ~LoopServices() override {
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);  // nothing left on it: no request, no handle
  }
  LoopServices(const LoopServices&) = delete;
  LoopServices& operator=(const LoopServices&) = delete;

  const jwt::Verifier* verifier() override { return nullptr; }
  jwt::TokenCache& tokenCache() override { return token_cache_; }
  balancer::rate_limit::LocalLimiter& localLimiter() override { return local_; }
  balancer::rate_limit::RedisLimiter* redisLimiter() override { return nullptr; }
  void countRateLimitUnavailable() override {}
  uv_loop_t* loop() override { return &loop_; }
  compression::EncoderPool& encoderPool() override { return encoders_; }

 private:
  uv_loop_t loop_;
  jwt::TokenCache token_cache_{16};
  balancer::rate_limit::LocalLimiter local_;
  compression::EncoderPool encoders_;
};

// How many file descriptors this process has open (a file response not freed keeps one).
inline int openFds() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) {
      ++n;
    }
    closedir(dir);
  }
  return n;
}

class ExchangeFixture final : public http::ParserListener {
 public:
  // `routes`: the config's routes section; ROOT in it stands for files.root().
  explicit ExchangeFixture(std::string routes) {
    for (size_t at; (at = routes.find("ROOT")) != std::string::npos;) {
      routes.replace(at, 4, files.root());
    }
    balancer::ConfigResult loaded = balancer::loadConfigString(
        "listeners:\n  - { name: public, address: 127.0.0.1:0 }\nroutes:\n" + routes);
    for (const balancer::ConfigError& e : loaded.errors) {
      FAIL(e.line << ":" << e.column << ": " << e.message);
    }
    snapshot_ = std::make_shared<const balancer::Snapshot>(std::move(*loaded.config));
    auto listeners = std::make_shared<balancer::ListenerRuntimes>();
    listeners->push_back(std::make_unique<balancer::ListenerRuntime>());
    listeners->back()->config = &snapshot_->config().listeners[0];
    listener_ = listeners->back().get();
    worker_ = std::make_unique<balancer::Worker>(0, snapshot_, std::move(listeners), nullptr,
                                                 std::vector<balancer::Worker::Listening>{},
                                                 nullptr);
    parser_.emplace(http::Parser::Kind::kRequest, this, &snapshot_->requestLimits());
    parser_->attachHead(&buffers_.request_head);
    env_.worker = worker_.get();
    env_.listener = listener_;
    env_.services = &services_;
    env_.buffers = &buffers_;
    env_.record = &record;
    env_.request = &*parser_;
    env_.client_ip = "10.0.0.1";
  }
  ~ExchangeFixture() { exchange.reset(); }  // before the loop is closed: it may hold a file
  ExchangeFixture(const ExchangeFixture&) = delete;
  ExchangeFixture& operator=(const ExchangeFixture&) = delete;

  // The client sends `request` (a whole request; "\r\n" ends each line, the head with an
  // empty one): the exchange begins at its head, as the session begins it.
  void send(const std::string& request) {
    record.begin(uv_hrtime());
    http::Parser::Result r = parser_->execute(request.data(), request.size());
    REQUIRE(r.status != http::Parser::Status::kError);
    REQUIRE(exchange);
    endIfAnswered();
  }

  // Runs the loop until nothing is left on it (the file lookups and reads are done).
  void runLoop() { uv_run(services_.loop(), UV_RUN_DEFAULT); }
  // Runs loop turns until `done` holds (false if the loop ran dry first).
  template <typename Predicate>
  bool runUntil(Predicate done) {
    while (!done()) {
      if (uv_run(services_.loop(), UV_RUN_ONCE) == 0 && !done()) {
        return false;
      }
    }
    return true;
  }

  // The client went away: the session's close.
  void clientLeaves() {
    codec.close();
    exchange->onConnectionClosed(499);
  }

  // Requests the worker counted with `status` on `route`.
  uint64_t counted(int route, int status) {
    return worker_->metrics().route(route).codes[static_cast<size_t>(
        status - balancer::kMinStatus)].get();
  }

  // http::ParserListener, as the session's
  int onHeadersComplete() override {
    record.head = true;
    worker_->newRequestId(&buffers_.request_id);
    balancer::ExchangeStart start;
    start.snapshot = snapshot_.get();
    start.metrics = &worker_->metrics();
    start.head_request = parser_->method() == HTTP_HEAD;
    start.chunked_request = parser_->chunked();
    exchange.emplace(&codec, &env_, start, ++exchanges_);
    exchange->start();
    return 0;
  }
  int onBody(const char* data, size_t len) override {
    return exchange->onRequestBody(data, len) ? 0 : kPause;
  }
  int onMessageComplete() override {
    exchange->onRequestComplete();
    return kPause;
  }

  static_files_test::TempTree files;  // the static routes' root
  FakeCodec codec;
  balancer::ExchangeRecord record;
  std::optional<balancer::Exchange> exchange;

 private:
  // A request the balancer answered before it was read whole ends once it is (the session's
  // part: Exchange::finishLocal), unless the answer's body is still coming.
  void endIfAnswered() {
    balancer::Exchange& ex = *exchange;
    if (ex.active() && ex.local() && ex.requestComplete() && ex.responseStarted() &&
        !ex.localBodyPending()) {
      ex.finishLocal();
    }
  }

  LoopServices services_;
  std::shared_ptr<const balancer::Snapshot> snapshot_;
  const balancer::ListenerRuntime* listener_ = nullptr;
  std::unique_ptr<balancer::Worker> worker_;
  balancer::ExchangeBuffers buffers_;
  std::optional<http::Parser> parser_;
  balancer::ExchangeEnv env_;
  uint64_t exchanges_ = 0;
};

}  // namespace exchange_test
