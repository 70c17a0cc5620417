#include "services/notification/stream_reader.h"

#include <hiredis/hiredis.h>

#include "common/log/log.h"

namespace notification {

namespace {
constexpr const char* kBlockMs = "5000";  // the client's command timeout must exceed this
constexpr const char* kBatch = "500";
void deleteTimer(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }
}  // namespace

StreamReader::StreamReader(uv_loop_t* loop, std::unique_ptr<redis::Client> client,
                           std::string stream, std::function<void(const Event&)> on_event)
    : client_(std::move(client)),
      stream_(std::move(stream)),
      on_event_(std::move(on_event)),
      retry_(new uv_timer_t) {
  uv_timer_init(loop, retry_);
  retry_->data = this;
  client_->onConnected([this] {
    if (!busy_ && !closed_) {
      last_id_.empty() ? findEnd() : read();
    }
  });
}

StreamReader::~StreamReader() { close(); }

void StreamReader::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  client_->close();
  uv_close(reinterpret_cast<uv_handle_t*>(retry_), deleteTimer);
}

// The id of the newest entry ("0-0" for an empty stream): reading from "$" twice would miss
// what arrives between two reads, reading from an id does not.
void StreamReader::findEnd() {
  busy_ = true;
  client_->command({"XREVRANGE", stream_, "+", "-", "COUNT", "1"}, [this](const redisReply* r) {
    busy_ = false;
    if (closed_) {
      return;
    }
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
      retryLater();
      return;
    }
    last_id_ = "0-0";
    if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2) {
      last_id_.assign(r->element[0]->element[0]->str, r->element[0]->element[0]->len);
    }
    LOG_INFO("following stream %s from %s", stream_.c_str(), last_id_.c_str());
    read();
  });
}

void StreamReader::read() {
  busy_ = true;
  client_->command({"XREAD", "COUNT", kBatch, "BLOCK", kBlockMs, "STREAMS", stream_, last_id_},
                   [this](const redisReply* r) {
                     busy_ = false;
                     if (closed_) {
                       return;
                     }
                     if (r == nullptr) {
                       retryLater();  // lost connection: onConnected may come first
                       return;
                     }
                     if (r->type == REDIS_REPLY_ERROR) {
                       LOG_WARN("XREAD %s: %s", stream_.c_str(), r->str);
                       retryLater();
                       return;
                     }
                     // nil: the block timed out with nothing new.
                     if (r->type == REDIS_REPLY_ARRAY) {
                       for (size_t s = 0; s < r->elements; ++s) {
                         const redisReply* entries = r->element[s]->element[1];
                         for (size_t i = 0; i < entries->elements; ++i) {
                           const redisReply* entry = entries->element[i];
                           if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2) {
                             last_id_.assign(entry->element[0]->str, entry->element[0]->len);
                           }
                           if (auto event = parseStreamEntry(entry)) {
                             ++received_;
                             on_event_(*event);
                           }
                         }
                       }
                     }
                     read();
                   });
}

void StreamReader::retryLater() {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(retry_))) {
    uv_timer_start(retry_, onRetry, 500, 0);
  }
}

void StreamReader::onRetry(uv_timer_t* timer) {
  auto* self = static_cast<StreamReader*>(timer->data);
  if (self->closed_ || self->busy_ || !self->client_->connected()) {
    if (!self->closed_ && !self->busy_) {
      self->retryLater();  // onConnected will also start it; whichever comes first
    }
    return;
  }
  self->last_id_.empty() ? self->findEnd() : self->read();
}

}  // namespace notification
