// order-service: orders, their status history, and the outbox relay that publishes status
// changes to the Redis stream the notification service reads.
//
// Settings of its own are declared below (the kit's: services/kit/settings.h).
#include <memory>

#include "services/kit/app.h"
#include "services/kit/setting.h"
#include "services/kit/settings.h"
#include "services/order/order_handlers.h"
#include "services/order/order_queries.h"
#include "services/order/outbox_relay.h"
#include "services/order/user_stream_sweep.h"

namespace {

// The relay's defaults are those of OutboxRelay::Options.
const order::OutboxRelay::Options kRelay{};
const kit::Setting<bool> kRelayEnabled{"relay.enabled", true,
                                       "publish the outbox from this process"};
const kit::Setting<std::string> kRelayStream{"relay.stream", kRelay.stream,
                                             "the shared stream of status events"};
const kit::Setting<int64_t> kRelayBatch{"relay.batch", kRelay.batch, "rows per batch"};
const kit::Setting<util::Millis> kRelayInterval{
    "relay.interval", kRelay.interval, "safety tick: events other instances wrote, or left"};
const kit::Setting<int64_t> kRelayMaxLen{"relay.max_len", kRelay.max_len, "XADD MAXLEN ~"};
const kit::Setting<int64_t> kRelayUserMaxLen{
    "relay.user_max_len", kRelay.user_max_len,
    "... of each user's stream order-status:user:ID (resume)"};
const order::UserStreamSweep::Options kSweep{};
const kit::Setting<util::Millis> kRelayUserRetention{
    "relay.user_retention", kSweep.retention,
    "a user's stream is removed after this long without an event"};
const kit::Setting<util::Millis> kRelaySweepInterval{
    "relay.sweep_interval", kSweep.interval, "how often idle user streams are looked for"};
const kit::Setting<util::Millis> kRelayBackoffMax{
    "relay.backoff_max", kRelay.backoff_max,
    "retry delay cap while Redis or PostgreSQL is down"};

}  // namespace

int main(int argc, char** argv) {
  kit::App app("order-service", "127.0.0.1:7201", argc, argv);
  const kit::Config& config = app.config();
  kit::PgPool& db = app.database(order::orderStatements());

  std::unique_ptr<order::OutboxRelay> relay;
  std::unique_ptr<order::UserStreamSweep> sweep;
  if (config.get(kRelayEnabled)) {
    order::OutboxRelay::Options options;
    options.stream = config.get(kRelayStream);
    options.batch = config.get(kRelayBatch);
    options.interval = config.get(kRelayInterval);
    options.max_len = config.get(kRelayMaxLen);
    options.user_max_len = config.get(kRelayUserMaxLen);
    options.backoff_max = config.get(kRelayBackoffMax);
    kit::PgPool::Options database;  // its own connection, to the same database
    database.url = config.get(kit::settings::kDatabaseUrl);
    database.acquire_timeout = config.get(kit::settings::kDatabaseAcquireTimeout);
    redis::Client& redis = app.redis();
    relay = std::make_unique<order::OutboxRelay>(app.loop(), std::move(database), redis,
                                                 std::move(options));
    redis.onConnected([r = relay.get()] { r->wake(); });
    app.metrics().addCollector([r = relay.get()](metrics::Exposition& out) { r->collect(out); });
    app.onShutdown([r = relay.get()] { r->stop(); });

    order::UserStreamSweep::Options sweep_options;
    sweep_options.stream = config.get(kRelayStream);
    sweep_options.index = order::userStreamIndex(sweep_options.stream);
    sweep_options.retention = config.get(kRelayUserRetention);
    sweep_options.interval = config.get(kRelaySweepInterval);
    sweep = std::make_unique<order::UserStreamSweep>(app.loop(), redis, sweep_options);
    app.metrics().addCollector([s = sweep.get()](metrics::Exposition& out) { s->collect(out); });
    app.onShutdown([s = sweep.get()] { s->stop(); });
  }

  order::OrderHandlers handlers(db, [r = relay.get()] {
    if (r != nullptr) {
      r->kick();
    }
  });
  handlers.install(app.router());
  app.metrics().addCollector([&handlers](metrics::Exposition& out) { handlers.collect(out); });

  if (relay) {
    relay->start();
    sweep->start();
  }
  return app.run();
}
