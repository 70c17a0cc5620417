#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "balancer/exchange/exchange_slot.h"

namespace balancer {

class Session;

// A worker's exchange slots: a free list of warm ones, and the sessions that went idle with a
// slot. An idle session cannot give its slot back at once: it goes idle inside a call of its
// exchange (the exchange's end reaches the session from the exchange's own stack frames), and
// the exchange is destroyed with its slot. So the slots come back in batches, from a timer
// callback: kBatch sessions waiting, or kSweepDelay after the first one. A keep-alive client
// that sends its next request before then keeps its warm slot and costs no lease at all.
class ExchangeSlots {
 public:
  ExchangeSlots() = default;
  ~ExchangeSlots();
  ExchangeSlots(const ExchangeSlots&) = delete;
  ExchangeSlots& operator=(const ExchangeSlots&) = delete;

  // Sets up the timer on `loop`. Returns 0 or a libuv error.
  int open(uv_loop_t* loop);
  // Closes the timer (the loop is ending); later releaseLater() calls do nothing.
  void close();

  // A slot with no exchange and no pending input in it; its buffers, record and env keep
  // what the last user left (the session sets what it needs).
  ExchangeSlot* lease();
  // Takes `slot` back and destroys its exchange. Not inside a call of that exchange.
  void giveBack(ExchangeSlot* slot);

  // Calls session->releaseSlotIfIdle() soon (see above), once however often it is asked.
  // `queued` is the session's flag for it.
  void releaseLater(Session* session, bool* queued);
  // The session closes: it is not called back.
  void cancel(Session* session, bool* queued);

 private:
  static void onTimer(uv_timer_t* timer);

  std::vector<std::unique_ptr<ExchangeSlot>> free_;
  std::vector<Session*> queue_;
  std::vector<Session*> running_;  // the queue being worked through (it may grow meanwhile)
  uv_timer_t timer_;
  bool open_ = false;
};

}  // namespace balancer
