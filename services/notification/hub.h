#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/ws/connection.h"
#include "services/notification/event.h"

namespace notification {

// The event ids a socket was sent lately: the relay publishes at least once and a resume may
// overlap the live stream, so each socket drops what it already had.
class RecentIds {
 public:
  explicit RecentIds(size_t capacity = 1024) : capacity_(capacity) {}
  bool contains(const std::string& id) const { return set_.count(id) != 0; }
  void add(const std::string& id);

 private:
  size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> set_;
};

// One open WebSocket of a user.
struct Subscriber {
  int64_t user = 0;
  std::shared_ptr<ws::Connection> conn;
  bool resuming = false;     // replaying missed events: live ones wait in `held`
  std::vector<Event> held;
  RecentIds sent;
};

// The open sockets by user, on the service's one loop: the stream reader publishes each
// event to its owner's sockets.
class Hub {
 public:
  explicit Hub(size_t max_buffered) : max_buffered_(max_buffered) {}

  void add(const std::shared_ptr<Subscriber>& sub);
  void remove(const Subscriber* sub);
  void publish(const Event& event);
  // Sends one event to one socket unless it had it; a socket that does not keep up (more than
  // max_buffered bytes queued) is closed with 1013 and resumes when it reconnects.
  void deliver(Subscriber& sub, const Event& event);
  // The replay is over: what arrived meanwhile goes out, in order.
  void finishResume(Subscriber& sub);

  size_t sockets() const { return sockets_; }
  uint64_t pushed() const { return pushed_; }
  uint64_t slowClosed() const { return slow_closed_; }

 private:
  size_t max_buffered_;
  std::unordered_map<int64_t, std::vector<std::shared_ptr<Subscriber>>> by_user_;
  size_t sockets_ = 0;
  uint64_t pushed_ = 0;
  uint64_t slow_closed_ = 0;
};

}  // namespace notification
