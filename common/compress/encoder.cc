#include "common/compress/encoder.h"

#include "common/compress/brotli_encoder.h"
#include "common/compress/gzip_encoder.h"
#include "common/compress/zstd_encoder.h"

namespace compression {

std::unique_ptr<Encoder> makeEncoder(Encoding encoding, int level) {
  std::unique_ptr<Encoder> encoder;
  switch (encoding) {
    case Encoding::kGzip:
      encoder = std::make_unique<GzipEncoder>();
      break;
    case Encoding::kBrotli:
      encoder = std::make_unique<BrotliEncoder>();
      break;
    case Encoding::kZstd:
      encoder = std::make_unique<ZstdEncoder>();
      break;
  }
  if (!encoder || !encoder->reset(level)) {
    return nullptr;
  }
  return encoder;
}

}  // namespace compression
