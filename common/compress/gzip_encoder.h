#pragma once

#include <zlib.h>

#include "common/compress/encoder.h"

namespace compression {

// gzip (RFC 1952) with zlib's deflate: a 32 KiB window (windowBits 15, +16 for the gzip
// wrapper) and memLevel 8, about 256 KiB of state. deflateReset keeps that memory, so a
// pooled encoder starts its next stream without allocating.
class GzipEncoder final : public Encoder {
 public:
  GzipEncoder() = default;
  ~GzipEncoder() override;
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  Encoding encoding() const override { return Encoding::kGzip; }
  bool write(std::string_view input, EncoderSink& out) override;
  bool flush(EncoderSink& out) override;
  bool finish(EncoderSink& out) override;
  bool reset(int level) override;

 private:
  bool run(std::string_view input, int mode, EncoderSink& out);
  z_stream stream_{};
  bool initialized_ = false;
};

}  // namespace compression
