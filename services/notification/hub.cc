#include "services/notification/hub.h"

#include <algorithm>

namespace notification {

void RecentIds::add(const std::string& id) {
  if (!set_.insert(id).second) {
    return;
  }
  order_.push_back(id);
  if (order_.size() > capacity_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
}

void Hub::add(const std::shared_ptr<Subscriber>& sub) {
  by_user_[sub->user].push_back(sub);
  ++sockets_;
}

void Hub::remove(const Subscriber* sub) {
  auto it = by_user_.find(sub->user);
  if (it == by_user_.end()) {
    return;
  }
  auto& list = it->second;
  auto pos = std::find_if(list.begin(), list.end(),
                          [sub](const std::shared_ptr<Subscriber>& s) { return s.get() == sub; });
  if (pos != list.end()) {
    list.erase(pos);
    --sockets_;
  }
  if (list.empty()) {
    by_user_.erase(it);
  }
}

void Hub::publish(const Event& event) {
  auto it = by_user_.find(event.id_user);
  if (it == by_user_.end()) {
    return;
  }
  // deliver() may close a socket, whose on_close removes it from this list: walk a copy.
  std::vector<std::shared_ptr<Subscriber>> subs = it->second;
  for (const auto& sub : subs) {
    if (sub->resuming) {
      sub->held.push_back(event);
    } else {
      deliver(*sub, event);
    }
  }
}

void Hub::deliver(Subscriber& sub, const Event& event) {
  if (!sub.conn || !sub.conn->isOpen() || sub.sent.contains(event.event_id)) {
    return;
  }
  if (sub.conn->bufferedAmount() > max_buffered_) {
    ++slow_closed_;
    sub.conn->close(1013, "too slow: reconnect with last_event_id");
    return;
  }
  sub.sent.add(event.event_id);
  sub.conn->sendText(event.message);
  ++pushed_;
}

void Hub::finishResume(Subscriber& sub) {
  sub.resuming = false;
  std::vector<Event> held;
  held.swap(sub.held);
  for (const Event& event : held) {
    deliver(sub, event);
  }
}

}  // namespace notification
