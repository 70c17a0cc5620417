#pragma once

#include <zstd.h>

#include "common/compress/encoder.h"

namespace compression {

// Zstandard (RFC 8878) with libzstd's ZSTD_compressStream2. The window is capped at 2^19
// bytes (512 KiB): level 3 would take 2 MiB for a body of unknown size, and RFC 9659 asks
// encoders to stay within 8 MiB anyway. ZSTD_CCtx_reset keeps the context's memory, so a
// pooled encoder starts its next stream without allocating.
class ZstdEncoder final : public Encoder {
 public:
  ZstdEncoder() = default;
  ~ZstdEncoder() override;
  ZstdEncoder(const ZstdEncoder&) = delete;
  ZstdEncoder& operator=(const ZstdEncoder&) = delete;

  Encoding encoding() const override { return Encoding::kZstd; }
  bool write(std::string_view input, EncoderSink& out) override;
  bool flush(EncoderSink& out) override;
  bool finish(EncoderSink& out) override;
  bool reset(int level) override;

 private:
  bool run(std::string_view input, ZSTD_EndDirective mode, EncoderSink& out);
  ZSTD_CCtx* context_ = nullptr;
};

}  // namespace compression
