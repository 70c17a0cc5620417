#include "common/compress/encoder_pool.h"

namespace compression {

std::unique_ptr<Encoder> EncoderPool::acquire(Encoding encoding, int level) {
  auto& idle = idle_[static_cast<size_t>(encoding)];
  while (!idle.empty()) {
    std::unique_ptr<Encoder> encoder = std::move(idle.back());
    idle.pop_back();
    if (encoder->reset(level)) {
      return encoder;
    }
  }
  ++made_;
  return makeEncoder(encoding, level);
}

void EncoderPool::release(std::unique_ptr<Encoder> encoder) {
  if (!encoder) {
    return;
  }
  auto& idle = idle_[static_cast<size_t>(encoder->encoding())];
  if (idle.size() < keep_) {
    idle.push_back(std::move(encoder));
  }
}

}  // namespace compression
