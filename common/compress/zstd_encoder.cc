#include "common/compress/zstd_encoder.h"

namespace compression {

namespace {
constexpr size_t kOutChunk = 16 * 1024;
constexpr int kWindowLog = 19;
}  // namespace

ZstdEncoder::~ZstdEncoder() { ZSTD_freeCCtx(context_); }

bool ZstdEncoder::reset(int level) {
  if (context_ == nullptr) {
    context_ = ZSTD_createCCtx();
    if (context_ == nullptr) {
      return false;
    }
  } else if (ZSTD_isError(ZSTD_CCtx_reset(context_, ZSTD_reset_session_only))) {
    return false;
  }
  return !ZSTD_isError(ZSTD_CCtx_setParameter(context_, ZSTD_c_compressionLevel, level)) &&
         !ZSTD_isError(ZSTD_CCtx_setParameter(context_, ZSTD_c_windowLog, kWindowLog));
}

bool ZstdEncoder::write(std::string_view input, EncoderSink& out) {
  return run(input, ZSTD_e_continue, out);
}
bool ZstdEncoder::flush(EncoderSink& out) { return run({}, ZSTD_e_flush, out); }
bool ZstdEncoder::finish(EncoderSink& out) { return run({}, ZSTD_e_end, out); }

bool ZstdEncoder::run(std::string_view input, ZSTD_EndDirective mode, EncoderSink& out) {
  if (context_ == nullptr) {
    return false;
  }
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  char buffer[kOutChunk];
  for (;;) {
    ZSTD_outBuffer o{buffer, sizeof(buffer), 0};
    size_t remaining = ZSTD_compressStream2(context_, &o, &in, mode);
    if (ZSTD_isError(remaining)) {
      return false;
    }
    if (o.pos > 0) {
      out.write({buffer, o.pos});
    }
    if (mode == ZSTD_e_continue ? in.pos == in.size : remaining == 0) {
      return true;
    }
  }
}

}  // namespace compression
