// order-service: orders, their status history, and the outbox relay that publishes status
// changes to the Redis stream the notification service reads.
//
// Settings (besides the kit's, see services/kit/app.h):
//   relay.enabled      true        publish the outbox from this process
//   relay.stream       order-status
//   relay.batch        100         rows per batch
//   relay.interval     500ms       safety tick: events other instances wrote, or left behind
//   relay.max_len      1000000     XADD MAXLEN ~
//   relay.user_max_len 1000        ... of each user's stream order-status:user:ID (resume)
//   relay.backoff_max  2s          retry delay cap while Redis or PostgreSQL is down
#include <memory>

#include "services/kit/app.h"
#include "services/order/order_handlers.h"
#include "services/order/order_queries.h"
#include "services/order/outbox_relay.h"

int main(int argc, char** argv) {
  kit::App app("order-service", "127.0.0.1:7201", argc, argv);
  const kit::Config& config = app.config();
  kit::PgPool& db = app.database(order::orderStatements());

  std::unique_ptr<order::OutboxRelay> relay;
  if (config.boolean("relay.enabled", true)) {
    order::OutboxRelay::Options options;
    options.stream = config.string("relay.stream", options.stream);
    options.batch = config.integer("relay.batch", options.batch);
    options.interval = config.duration("relay.interval", options.interval);
    options.max_len = config.integer("relay.max_len", options.max_len);
    options.user_max_len = config.integer("relay.user_max_len", options.user_max_len);
    options.backoff_max = config.duration("relay.backoff_max", options.backoff_max);
    kit::PgPool::Options database;
    database.url = config.string("database.url", "postgresql://shop@127.0.0.1:25432/shop");
    database.acquire_timeout = config.duration("database.acquire_timeout", util::Millis(3000));
    redis::Client& redis = app.redis();
    relay = std::make_unique<order::OutboxRelay>(app.loop(), std::move(database), redis,
                                                 std::move(options));
    redis.onConnected([r = relay.get()] { r->wake(); });
    app.metrics().addCollector([r = relay.get()](metrics::Exposition& out) { r->collect(out); });
    app.onShutdown([r = relay.get()] { r->stop(); });
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
  }
  return app.run();
}
