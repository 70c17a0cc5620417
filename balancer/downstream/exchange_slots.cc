#include "balancer/downstream/exchange_slots.h"

#include <algorithm>

#include "balancer/downstream/session.h"

namespace balancer {

namespace {

// Warm slots kept for a burst; beyond that, memory goes back.
constexpr size_t kMaxFree = 256;
// Idle sessions that make a sweep run at once (the next loop turn), so that a burst of
// connections going idle does not hold many slots; and how long a lone one waits.
constexpr size_t kBatch = 64;
constexpr uint64_t kSweepDelayMs = 100;

void forget(std::vector<Session*>* sessions, Session* session) {
  auto it = std::find(sessions->begin(), sessions->end(), session);
  if (it != sessions->end()) {
    *it = nullptr;
  }
}

}  // namespace

ExchangeSlots::~ExchangeSlots() = default;

int ExchangeSlots::open(uv_loop_t* loop) {
  int r = uv_timer_init(loop, &timer_);
  if (r == 0) {
    timer_.data = this;
    open_ = true;
  }
  return r;
}

void ExchangeSlots::close() {
  if (open_) {
    open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
}

ExchangeSlot* ExchangeSlots::lease() {
  if (free_.empty()) {
    return new ExchangeSlot;
  }
  ExchangeSlot* slot = free_.back().release();
  free_.pop_back();
  return slot;
}

void ExchangeSlots::giveBack(ExchangeSlot* slot) {
  slot->exchange.reset();
  slot->pending_input.clear();  // a closed connection may leave some: not the next one's
  if (free_.size() >= kMaxFree) {
    delete slot;
    return;
  }
  free_.emplace_back(slot);
}

void ExchangeSlots::releaseLater(Session* session, bool* queued) {
  if (*queued || !open_) {
    return;
  }
  *queued = true;
  queue_.push_back(session);
  if (queue_.size() == 1) {
    uv_timer_start(&timer_, &ExchangeSlots::onTimer, kSweepDelayMs, 0);
  } else if (queue_.size() == kBatch) {
    uv_timer_start(&timer_, &ExchangeSlots::onTimer, 0, 0);
  }
}

void ExchangeSlots::cancel(Session* session, bool* queued) {
  if (!*queued) {
    return;
  }
  *queued = false;
  forget(&queue_, session);
  forget(&running_, session);
}

void ExchangeSlots::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ExchangeSlots*>(timer->data);
  self->running_.swap(self->queue_);
  for (Session* session : self->running_) {
    if (session != nullptr) {
      session->releaseSlotIfIdle();  // a busy one asks again when it is idle
    }
  }
  self->running_.clear();
  if (!self->queue_.empty()) {
    uv_timer_start(timer, &ExchangeSlots::onTimer, self->queue_.size() >= kBatch ? 0 : kSweepDelayMs, 0);
  }
}

}  // namespace balancer
