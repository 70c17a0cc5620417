#include "balancer/downstream/exchange_slots.h"

#include <algorithm>

#include "balancer/downstream/session.h"

namespace balancer {

namespace {

// Warm slots kept for a burst; beyond that, memory goes back.
constexpr size_t kMaxFree = 256;

void forget(std::vector<Session*>* sessions, Session* session) {
  auto it = std::find(sessions->begin(), sessions->end(), session);
  if (it != sessions->end()) {
    *it = nullptr;
  }
}

}  // namespace

ExchangeSlots::~ExchangeSlots() = default;

int ExchangeSlots::open(uv_loop_t* loop) {
  int r = uv_check_init(loop, &check_);
  if (r == 0) {
    check_.data = this;
    open_ = true;
  }
  return r;
}

void ExchangeSlots::close() {
  if (open_) {
    open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
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
  if (free_.size() >= kMaxFree) {
    delete slot;
    return;
  }
  free_.emplace_back(slot);
}

void ExchangeSlots::releaseLater(Session* session, bool* queued) {
  if (*queued || !open_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&check_)) != 0) {
    return;
  }
  *queued = true;
  if (queue_.empty()) {
    uv_check_start(&check_, &ExchangeSlots::onCheck);
  }
  queue_.push_back(session);
}

void ExchangeSlots::cancel(Session* session, bool* queued) {
  if (!*queued) {
    return;
  }
  *queued = false;
  forget(&queue_, session);
  forget(&running_, session);
}

void ExchangeSlots::onCheck(uv_check_t* check) {
  auto* self = static_cast<ExchangeSlots*>(check->data);
  self->running_.swap(self->queue_);
  for (Session* session : self->running_) {
    if (session != nullptr) {
      session->releaseSlotIfIdle();
    }
  }
  self->running_.clear();
  if (self->queue_.empty()) {
    uv_check_stop(check);
  }
}

}  // namespace balancer
