#pragma once

#include <uv.h>

struct redisAsyncContext;

namespace redis {

// Drives a hiredis async context from a libuv loop: watches its socket and calls hiredis
// when it can read or write. Returns false if the context already has an event library or
// the socket cannot be watched; the caller then frees the context.
//
// This replaces hiredis's own adapters/libuv.h, which in hiredis 0.14 (Debian 12) drops
// the error status libuv reports for a socket error: a refused connection or a reset one
// then never reaches hiredis, and the context waits forever. Here an error is handed to
// hiredis as the events it was waiting for, so it reads the socket's error and reports it.
// The event hooks are the same in hiredis 1.x, so this works with both.
bool attachToLoop(redisAsyncContext* ctx, uv_loop_t* loop);

}  // namespace redis
