#include "common/compress/gzip_encoder.h"

namespace compression {

namespace {
constexpr size_t kOutChunk = 16 * 1024;  // on the stack: written out as each fills
}

GzipEncoder::~GzipEncoder() {
  if (initialized_) {
    deflateEnd(&stream_);
  }
}

bool GzipEncoder::reset(int level) {
  if (!initialized_) {
    initialized_ = deflateInit2(&stream_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
                   Z_OK;
    return initialized_;
  }
  // After a reset no data is pending, so deflateParams changes the level without output.
  return deflateReset(&stream_) == Z_OK &&
         deflateParams(&stream_, level, Z_DEFAULT_STRATEGY) == Z_OK;
}

bool GzipEncoder::write(std::string_view input, EncoderSink& out) {
  return run(input, Z_NO_FLUSH, out);
}
bool GzipEncoder::flush(EncoderSink& out) { return run({}, Z_SYNC_FLUSH, out); }
bool GzipEncoder::finish(EncoderSink& out) { return run({}, Z_FINISH, out); }

bool GzipEncoder::run(std::string_view input, int mode, EncoderSink& out) {
  if (!initialized_) {
    return false;
  }
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream_.avail_in = static_cast<uInt>(input.size());
  char buffer[kOutChunk];
  for (;;) {
    stream_.next_out = reinterpret_cast<Bytef*>(buffer);
    stream_.avail_out = static_cast<uInt>(sizeof(buffer));
    int rc = deflate(&stream_, mode);
    if (rc == Z_STREAM_ERROR) {
      return false;
    }
    size_t made = sizeof(buffer) - stream_.avail_out;
    if (made > 0) {
      out.write({buffer, made});
    }
    if (mode == Z_FINISH) {
      if (rc == Z_STREAM_END) {
        return true;
      }
    } else if (stream_.avail_out != 0) {
      return true;  // all input taken (and, for a flush, all output written)
    }
  }
}

}  // namespace compression
