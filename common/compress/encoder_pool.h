#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/compress/encoder.h"

namespace compression {

// A worker's idle encoders, a few per encoding, so that a compressed response takes one
// that is already set up (zlib's ~256 KiB, a zstd context) instead of allocating its own.
// One thread only: each worker has its own.
class EncoderPool {
 public:
  explicit EncoderPool(size_t keep_per_encoding = 8) : keep_(keep_per_encoding) {}

  // An encoder for a new stream of `encoding` at `level`: an idle one reset, or a new one.
  // Null when the library could not set one up.
  std::unique_ptr<Encoder> acquire(Encoding encoding, int level);
  // Takes back an encoder whose stream is over (finished); kept if there is room.
  void release(std::unique_ptr<Encoder> encoder);

  size_t idle(Encoding encoding) const { return idle_[static_cast<size_t>(encoding)].size(); }
  uint64_t made() const { return made_; }  // encoders set up from nothing

 private:
  size_t keep_;
  std::array<std::vector<std::unique_ptr<Encoder>>, kEncodingCount> idle_;
  uint64_t made_ = 0;
};

}  // namespace compression
