#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/redis/client.h"
#include "services/notification/event.h"

namespace notification {

// Follows the order-status stream with XREAD BLOCK on a Redis connection of its own (a
// blocked read holds its connection) and hands each event to `on_event`. It starts at the
// stream's end (missed events reach clients through their resume), and after a lost
// connection goes on from the last id it read, so a Redis restart loses nothing that Redis
// kept. Never polls: each read waits in Redis until an event comes.
class StreamReader {
 public:
  StreamReader(uv_loop_t* loop, std::unique_ptr<redis::Client> client, std::string stream,
               std::function<void(const Event&)> on_event);
  ~StreamReader();
  void close();

  uint64_t received() const { return received_; }

 private:
  void findEnd();
  void read();
  void retryLater();
  static void onRetry(uv_timer_t* timer);

  std::unique_ptr<redis::Client> client_;
  std::string stream_;
  std::function<void(const Event&)> on_event_;
  std::string last_id_;  // empty until the stream's end is known
  bool busy_ = false;    // a command is out
  bool closed_ = false;
  uint64_t received_ = 0;
  uv_timer_t* retry_;
};

}  // namespace notification
