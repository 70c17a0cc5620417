// notification-service: pushes order status changes to their owners over WebSocket.
//
//   GET /ws/notifications[?last_event_id=UUID]   (WebSocket; the user is X-User-Id from the
//                                                  balancer; Last-Event-ID header also works)
// Every instance follows the order-status stream and pushes each event to its owner's open
// sockets: {"type":"order.status","id_order":..,"status":"..","at":"..","event_id":".."}.
// A client that reconnects with the last event id it saw first gets what it missed, from the
// user's own capped stream that the relay keeps (order-status:user:ID), then live events.
//
// Settings of its own are declared below (the kit's: services/kit/settings.h).
#include <hiredis/hiredis.h>

#include <cctype>
#include <memory>

#include "common/http/query.h"
#include "common/log/log.h"
#include "common/ws/handshake.h"
#include "services/kit/app.h"
#include "services/kit/identity.h"
#include "services/kit/reply.h"
#include "services/kit/setting.h"
#include "services/notification/hub.h"
#include "services/notification/stream_reader.h"

namespace {

const kit::Setting<std::string> kStream{"stream", "order-status",
                                        "the Redis stream of order status events to follow"};
const kit::Setting<int64_t> kMaxMessageSize{"ws.max_message_size", 4096,
                                            "largest WebSocket message a client may send"};
const kit::Setting<util::Millis> kPingInterval{"ws.ping_interval", util::Millis(30000),
                                               "keep-alive pings to each socket"};
const kit::Setting<int64_t> kMaxBuffered{
    "ws.max_buffered", 1 << 20, "a socket further behind is closed with 1013 and resumes"};
const kit::Setting<int64_t> kResumeMaxEvents{"resume.max_events", 1000,
                                             "most events replayed to a reconnecting client"};

// Event ids are UUIDs; anything else is refused before it reaches Redis or a log.
bool plausibleEventId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  kit::App app("notification-service", "127.0.0.1:7301", argc, argv);
  const kit::Config& config = app.config();
  std::string stream = config.get(kStream);
  ws::Options ws_options;
  ws_options.max_message_size = static_cast<size_t>(config.get(kMaxMessageSize));
  ws_options.ping_interval = config.get(kPingInterval);
  auto max_buffered = static_cast<size_t>(config.get(kMaxBuffered));
  std::string resume_count = std::to_string(config.get(kResumeMaxEvents));

  notification::Hub hub(max_buffered);
  redis::Client& redis = app.redis();
  notification::StreamReader reader(app.loop(), app.newRedisClient("stream", 15000), stream,
                                    [&hub](const notification::Event& e) { hub.publish(e); });
  uint64_t resumes = 0;
  uint64_t resume_failures = 0;

  app.router().add("GET", "/ws/notifications", [&](const http::Request& request,
                                                   const kit::Params&, http::Responder res) {
    kit::Identity who = kit::Identity::fromRequest(request);
    if (!kit::requireUser(who, res)) {
      return;
    }
    std::string last(http::queryParam(request.query, "last_event_id"));
    if (last.empty()) {
      last = std::string(request.header("Last-Event-ID"));
    }
    if (!last.empty() && !plausibleEventId(last)) {
      res.send(kit::errorResponse(400, "last_event_id is not an event id"));
      return;
    }
    auto sub = std::make_shared<notification::Subscriber>();
    sub->user = who.user_id;
    sub->resuming = !last.empty();
    ws::Handlers handlers;
    handlers.on_message = [](ws::Opcode, std::string_view) {};  // clients only listen
    handlers.on_close = [&hub, raw = sub.get()](uint16_t, std::string_view) { hub.remove(raw); };
    sub->conn = ws::accept(request, std::move(res), ws_options, std::move(handlers));
    if (!sub->conn) {
      return;  // refused handshake, answered by ws::accept
    }
    hub.add(sub);
    if (!sub->resuming) {
      return;
    }
    ++resumes;
    std::weak_ptr<notification::Subscriber> weak = sub;
    redis.command(
        {"XRANGE", notification::userStreamKey(stream, sub->user), "-", "+", "COUNT", resume_count},
        [&hub, &resume_failures, weak, last](const redisReply* r) {
          auto s = weak.lock();
          if (!s || !s->conn || !s->conn->isOpen()) {
            return;
          }
          if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
            // Cannot replay now: the client keeps its last id and tries again.
            ++resume_failures;
            s->conn->close(1013, "try again later: cannot replay missed events");
            return;
          }
          std::vector<notification::Event> events;
          size_t start = 0;
          for (size_t i = 0; i < r->elements; ++i) {
            if (auto e = notification::parseStreamEntry(r->element[i])) {
              if (e->event_id == last) {
                start = events.size() + 1;  // after the last one the client saw
              }
              events.push_back(std::move(*e));
            }
          }
          for (size_t i = start; i < events.size(); ++i) {
            hub.deliver(*s, events[i]);
          }
          hub.finishResume(*s);
        });
  });

  app.metrics().addCollector([&](metrics::Exposition& out) {
    out.family("notification_sockets", "gauge", "Open WebSocket connections.");
    out.sample("notification_sockets", {}, static_cast<double>(hub.sockets()));
    out.family("notification_events_received_total", "counter", "Events read from the stream.");
    out.sample("notification_events_received_total", {}, static_cast<double>(reader.received()));
    out.family("notification_events_pushed_total", "counter", "Event messages sent to sockets.");
    out.sample("notification_events_pushed_total", {}, static_cast<double>(hub.pushed()));
    out.family("notification_slow_closed_total", "counter", "Sockets closed for not keeping up.");
    out.sample("notification_slow_closed_total", {}, static_cast<double>(hub.slowClosed()));
    out.family("notification_resumes_total", "counter", "Connections that asked for missed events, by result.");
    out.sample("notification_resumes_total", {{"result", "ok"}}, static_cast<double>(resumes - resume_failures));
    out.sample("notification_resumes_total", {{"result", "failed"}}, static_cast<double>(resume_failures));
  });
  app.onShutdown([&reader] { reader.close(); });
  return app.run();
}
