#pragma once

#include <uv.h>

namespace http {

// Starts or stops reading `stream` so that it matches `want`; `*reading` remembers which, so
// libuv is called only on a change.
inline void setReading(uv_stream_t* stream, bool want, bool* reading, uv_alloc_cb alloc,
                       uv_read_cb read) {
  if (want && !*reading) {
    *reading = true;
    uv_read_start(stream, alloc, read);
  } else if (!want && *reading) {
    *reading = false;
    uv_read_stop(stream);
  }
}

}  // namespace http
