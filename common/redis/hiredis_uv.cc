#include "common/redis/hiredis_uv.h"

#include <hiredis/async.h>

namespace redis {

namespace {

// One per context: freed by the poll handle's close callback, after hiredis is done with it.
struct Watch {
  uv_poll_t poll;
  redisAsyncContext* ctx;  // null once hiredis has cleaned up
  int events = 0;          // what hiredis waits for
};

void onPoll(uv_poll_t* handle, int status, int events) {
  auto* watch = static_cast<Watch*>(handle->data);
  if (status < 0) {
    events = watch->events;  // the read or write that hiredis tries will find the error
  }
  // Each call may free the context; cleanup() then clears watch->ctx.
  if (watch->ctx != nullptr && (events & UV_READABLE) != 0) {
    redisAsyncHandleRead(watch->ctx);
  }
  if (watch->ctx != nullptr && (events & UV_WRITABLE) != 0) {
    redisAsyncHandleWrite(watch->ctx);
  }
}

void update(void* data, int add, int remove) {
  auto* watch = static_cast<Watch*>(data);
  watch->events = (watch->events | add) & ~remove;
  if (watch->events != 0) {
    uv_poll_start(&watch->poll, watch->events, onPoll);
  } else {
    uv_poll_stop(&watch->poll);
  }
}

void addRead(void* data) { update(data, UV_READABLE, 0); }
void delRead(void* data) { update(data, 0, UV_READABLE); }
void addWrite(void* data) { update(data, UV_WRITABLE, 0); }
void delWrite(void* data) { update(data, 0, UV_WRITABLE); }

void cleanup(void* data) {
  auto* watch = static_cast<Watch*>(data);
  watch->ctx = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
           [](uv_handle_t* handle) { delete static_cast<Watch*>(handle->data); });
}

}  // namespace

bool attachToLoop(redisAsyncContext* ctx, uv_loop_t* loop) {
  if (ctx->ev.data != nullptr) {
    return false;
  }
  auto* watch = new Watch{};
  if (uv_poll_init(loop, &watch->poll, ctx->c.fd) != 0) {
    delete watch;
    return false;
  }
  watch->poll.data = watch;
  watch->ctx = ctx;
  ctx->ev.data = watch;
  ctx->ev.addRead = addRead;
  ctx->ev.delRead = delRead;
  ctx->ev.addWrite = addWrite;
  ctx->ev.delWrite = delWrite;
  ctx->ev.cleanup = cleanup;
  return true;
}

}  // namespace redis
