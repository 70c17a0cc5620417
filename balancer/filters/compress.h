#pragma once

#include <string_view>

#include "balancer/config.h"
#include "balancer/filters/filter.h"

namespace balancer::filters {

// A route's compress: a response the client accepts compressed (Accept-Encoding, negotiated
// by q-value with the route's order breaking ties) goes out in that coding, streamed through
// a pooled encoder piece by piece as the upstream sends it (the client's pace holds the
// upstream back as for any response: nothing is buffered whole). Left as it is: HEAD, a
// request with Range, 1xx/204/206/304, a response already encoded or marked no-transform,
// a type not in `types`, a known length below `min_size`. A compressed response drops its
// Content-Length, weakens a strong ETag and says Content-Encoding and Vary: Accept-Encoding;
// a compressible one sent plain (the client did not ask) says Vary too, so that a cache keeps
// the variants apart.
class Compress final : public Filter {
 public:
  explicit Compress(CompressConfig config) : config_(std::move(config)) {}
  std::string_view name() const override { return "compress"; }
  Verdict onRequestHead(FilterContext& ctx) override;
  void onResponseHead(FilterContext& ctx, const ResponseFacts& response) override;
  bool wantsResponseHead() const override { return true; }
  void onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                      BodySink& next) override;
  bool wantsResponseBody() const override { return true; }
  bool leavesResponseBody(FilterContext& ctx) const override;

  // Whether a Content-Type value names a type this route compresses.
  bool compressesType(std::string_view content_type) const;

 private:
  CompressConfig config_;
};

}  // namespace balancer::filters
