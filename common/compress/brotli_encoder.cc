#include "common/compress/brotli_encoder.h"

#include <cstdint>

namespace compression {

namespace {
constexpr size_t kOutChunk = 16 * 1024;
constexpr int kWindowBits = 19;
}  // namespace

BrotliEncoder::~BrotliEncoder() {
  if (state_ != nullptr) {
    BrotliEncoderDestroyInstance(state_);
  }
}

bool BrotliEncoder::reset(int level) {
  if (state_ != nullptr) {
    BrotliEncoderDestroyInstance(state_);
  }
  state_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
  if (state_ == nullptr) {
    return false;
  }
  return BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(level)) &&
         BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, kWindowBits) &&
         BrotliEncoderSetParameter(state_, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
}

bool BrotliEncoder::write(std::string_view input, EncoderSink& out) {
  return run(input, BROTLI_OPERATION_PROCESS, out);
}
bool BrotliEncoder::flush(EncoderSink& out) { return run({}, BROTLI_OPERATION_FLUSH, out); }
bool BrotliEncoder::finish(EncoderSink& out) { return run({}, BROTLI_OPERATION_FINISH, out); }

bool BrotliEncoder::run(std::string_view input, BrotliEncoderOperation op, EncoderSink& out) {
  if (state_ == nullptr) {
    return false;
  }
  const auto* next_in = reinterpret_cast<const uint8_t*>(input.data());
  size_t avail_in = input.size();
  uint8_t buffer[kOutChunk];
  for (;;) {
    uint8_t* next_out = buffer;
    size_t avail_out = sizeof(buffer);
    if (!BrotliEncoderCompressStream(state_, op, &avail_in, &next_in, &avail_out, &next_out,
                                     nullptr)) {
      return false;
    }
    size_t made = sizeof(buffer) - avail_out;
    if (made > 0) {
      out.write({reinterpret_cast<const char*>(buffer), made});
    }
    if (op == BROTLI_OPERATION_FINISH) {
      if (BrotliEncoderIsFinished(state_)) {
        return true;
      }
    } else if (avail_in == 0 && !BrotliEncoderHasMoreOutput(state_)) {
      return true;
    }
  }
}

}  // namespace compression
