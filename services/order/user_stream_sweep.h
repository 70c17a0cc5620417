#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "common/metrics/exposition.h"
#include "common/redis/client.h"
#include "common/util/units.h"

namespace order {

// Removes the per-user event streams (order-status:user:ID) of users with no event for a
// while. Those streams carry no TTL, so Redis's volatile-lru never evicts them, and without
// this sweep every user who ever ordered would keep up to user_max_len events forever.
//
// The relay records each stream's last write in a sorted set (`index`, score: milliseconds
// since the epoch) in the same MULTI as the XADD. The sweep runs one script per tick that
// deletes up to `batch` streams whose last write is older than `retention`, and their index
// entries, atomically: an event added after the script runs recreates its stream and entry.
// A client resuming after longer than `retention` gets no replay (its app reloads the
// orders through the API anyway). Streams written before the index existed are entered once
// at start (a SCAN, `ZADD NX` with the time of that pass), so they too go after `retention`.
// The index of `stream`'s per-user streams: "order-status" -> "order-status:user-streams".
inline std::string userStreamIndex(const std::string& stream) { return stream + ":user-streams"; }

class UserStreamSweep {
 public:
  struct Options {
    std::string stream = "order-status";  // the user streams are STREAM:user:ID
    std::string index = userStreamIndex("order-status");
    util::Millis retention{7 * 24 * 3600 * 1000LL};
    util::Millis interval{60 * 1000};
    int64_t batch = 500;  // streams per script run: each run holds Redis for its DELs
  };

  UserStreamSweep(uv_loop_t* loop, redis::Client& redis, Options options);
  ~UserStreamSweep();
  UserStreamSweep(const UserStreamSweep&) = delete;
  UserStreamSweep& operator=(const UserStreamSweep&) = delete;

  void start();
  void stop();

  // order_user_streams_removed_total
  void collect(metrics::Exposition& out) const;

 private:
  void sweep();
  // One SCAN step of the start-up pass that indexes streams the index lacks.
  void backfill(const std::string& cursor);
  static void onTick(uv_timer_t* timer);

  redis::Client& redis_;
  Options options_;
  uv_timer_t* tick_;  // freed in its close callback
  bool stopped_ = false;
  bool running_ = false;
  bool backfilled_ = false;  // the start-up pass ran to its end
  uint64_t removed_ = 0;
};

}  // namespace order
