#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "balancer/cache/cached_object.h"
#include "balancer/cache/loop_poster.h"
#include "balancer/filters/filter.h"
#include "common/http/range.h"

namespace balancer::cache {

// A cache hit as the exchange sends it: a LocalResponse whose body is pulled from a cached
// object, which may still be filling on another worker. What is there is handed to the sink
// at once (a view into the object's chunks, no copy); past that the response waits for the
// filler's next bytes and goes on on its own loop.
class ObjectResponse final : public filters::LocalResponse {
 public:
  // Runs a task on the worker's loop thread that owns this response; callable from any
  // thread (a worker implements it with a uv_async_t and a locked queue).
  using Post = cache::Post;

  // `extra_headers`: lines (each ending in CRLF) added after the stored ones: X-Cache (and
  // Content-Range). With `range`, a 206 of those bytes of the body (its end must be known).
  ObjectResponse(std::shared_ptr<const CachedObject> object, Post post, int64_t now_ms,
                 const std::string& extra_headers,
                 std::optional<http::ByteRange> range = std::nullopt);
  ~ObjectResponse() override;

  void pull(filters::LocalBodySink& sink, size_t max) override;
  // The object's chunks never move and it is held until the response goes.
  bool piecesStable() const override { return true; }
  // A complete body kept in a memfd (GrowingBody::file), nothing of it pulled yet: sent with
  // sendfile from memory pages, on the loop.
  std::optional<filters::FileRegion> fileRegion() const override;

  const CachedObject& object() const { return *state_->object; }

 private:
  // What a wait in flight needs, kept alive by the posted task; `cancelled` (touched on the
  // loop thread only) stops it calling the sink once the response is gone.
  struct PullState {
    std::shared_ptr<const CachedObject> object;
    Post post;
    uint64_t offset = 0;
    uint64_t end = UINT64_MAX;  // past the last byte sent (a range's)
    uint64_t ticket = 0;
    bool pulled = false;  // pull was called: the body goes that way to its end
    bool cancelled = false;
  };
  static void pullFrom(const std::shared_ptr<PullState>& state, filters::LocalBodySink& sink,
                       size_t max);

  std::shared_ptr<PullState> state_;
};

}  // namespace balancer::cache
