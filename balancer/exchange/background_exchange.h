#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>

#include "balancer/access_log/exchange_record.h"
#include "balancer/exchange/exchange.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/worker/filter_services.h"
#include "common/http/parser.h"

namespace balancer {

// A request the balancer sends for itself, with no client: the cache's stale-while-revalidate
// refresh. It runs as an exchange of its own through the same listener's and route's filters
// (the cache filter stores what comes back), on the worker's loop, and is its own codec: the
// response is dropped as it comes. It starts in the next loop turn (never inside the filter
// that asked for it), holds its snapshot's generation while it runs, and frees itself once the
// exchange is done (bounded by the upstream's timeouts).
class BackgroundExchange final : public ExchangeCodec, public http::ParserListener {
 public:
  // `like`: the exchange it is made for (worker, listener, client address). `head`: a whole
  // request head, without a body.
  // `done` runs when it is over, however it ended.
  static void launch(const ExchangeEnv& like, const Snapshot* snapshot, WorkerMetrics* metrics,
                     std::string head, std::function<void()> done);

  // ExchangeCodec: nobody reads the response.
  void sendInterim(const http::Parser&) override {}
  void sendHead(const ResponseHead&) override {}
  void sendBody(std::string_view, bool) override {}
  void sendEnd() override {}
  void flush() override {}
  bool outputFull() override { return false; }
  void abort() override;
  void onExchangeDone(bool) override { finish(); }
  void onRequestBodyWanted() override {}
  void enterTunnel(UpstreamConnection*, const char*, size_t) override { abort(); }
  void onTunnelData(const char*, size_t) override {}
  void onTunnelClosed() override {}
  bool open() const override { return !done_; }
  bool closed() const override { return done_; }

  // http::ParserListener
  int onHeadersComplete() override;
  int onBody(const char*, size_t) override { return 0; }
  int onMessageComplete() override;

 private:
  BackgroundExchange(const ExchangeEnv& like, const Snapshot* snapshot, WorkerMetrics* metrics,
                     std::string head, std::function<void()> done);
  ~BackgroundExchange();
  void start();
  // The exchange is over: the object goes in the next loop turn (not inside its calls).
  void finish();

  std::string head_;
  std::function<void()> done_callback_;
  std::string client_ip_;
  // Its own, not the triggering session's: that session may be gone before this starts.
  WorkerFilterServices services_;
  const Snapshot* snapshot_;
  WorkerMetrics* metrics_;
  ExchangeBuffers buffers_;
  ExchangeRecord record_;
  ExchangeEnv env_;
  http::Parser parser_;
  std::optional<Exchange> exchange_;
  uv_timer_t timer_;  // the next-turn start, then the next-turn free
  bool started_ = false;
  bool done_ = false;
};

}  // namespace balancer
