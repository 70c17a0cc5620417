#pragma once

#include <uv.h>

#include <exception>
#include <functional>
#include <stdexcept>

namespace kit {

// Runs CPU-bound or blocking work (password hashing) on the uv thread pool, then `done` on the
// loop thread with the exception the work threw, if any. Work that needs the database goes
// through PgPool instead, so that it does not hold a connection while it computes.
void runBlocking(uv_loop_t* loop, std::function<void()> work,
                 std::function<void(std::exception_ptr)> done);

}  // namespace kit
