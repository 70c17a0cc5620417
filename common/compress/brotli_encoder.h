#pragma once

#include <brotli/encode.h>

#include "common/compress/encoder.h"

namespace compression {

// Brotli (RFC 7932) with libbrotlienc's streaming API. The window is capped at 2^19 bytes
// (512 KiB, as ngx_brotli's default) so that a stream's memory stays near a gzip one's.
// libbrotlienc has no reset: reset() makes a new state (its big buffers are allocated lazily,
// on the first data, so this costs one small allocation).
class BrotliEncoder final : public Encoder {
 public:
  BrotliEncoder() = default;
  ~BrotliEncoder() override;
  BrotliEncoder(const BrotliEncoder&) = delete;
  BrotliEncoder& operator=(const BrotliEncoder&) = delete;

  Encoding encoding() const override { return Encoding::kBrotli; }
  bool write(std::string_view input, EncoderSink& out) override;
  bool flush(EncoderSink& out) override;
  bool finish(EncoderSink& out) override;
  bool reset(int level) override;

 private:
  bool run(std::string_view input, BrotliEncoderOperation op, EncoderSink& out);
  BrotliEncoderState* state_ = nullptr;
};

}  // namespace compression
