#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "balancer/exchange/exchange_slot.h"

namespace balancer {

class Session;

// A worker's exchange slots: a free list of warm ones, and the sessions that went idle inside
// a call of their exchange (its end reaches the session from the exchange's own stack frames).
// Those give their slot back in this loop turn's check phase, when no call of the exchange
// is on the stack any more: the exchange is destroyed with its slot.
class ExchangeSlots {
 public:
  ExchangeSlots() = default;
  ~ExchangeSlots();
  ExchangeSlots(const ExchangeSlots&) = delete;
  ExchangeSlots& operator=(const ExchangeSlots&) = delete;

  // Sets up the check handle on `loop`. Returns 0 or a libuv error.
  int open(uv_loop_t* loop);
  // Closes the check handle (the loop is ending); later releaseLater() calls do nothing.
  void close();

  // A slot with no exchange in it; its buffers and record keep what the last user left.
  ExchangeSlot* lease();
  // Takes `slot` back and destroys its exchange. Not inside a call of that exchange.
  void giveBack(ExchangeSlot* slot);

  // Calls session->releaseSlotIfIdle() in this loop turn's check phase, once however often
  // it is asked. `queued` is the session's flag for it.
  void releaseLater(Session* session, bool* queued);
  // The session closes: it is not called back.
  void cancel(Session* session, bool* queued);

 private:
  static void onCheck(uv_check_t* check);

  std::vector<std::unique_ptr<ExchangeSlot>> free_;
  std::vector<Session*> queue_;
  std::vector<Session*> running_;  // the queue being worked through (it may grow meanwhile)
  uv_check_t check_;
  bool open_ = false;
};

}  // namespace balancer
