#pragma once

#include <memory>
#include <string_view>

#include "common/compress/encoding.h"

namespace compression {

// Where an encoder writes what it makes. The bytes are the encoder's scratch: copied (or
// written out) before write() returns.
class EncoderSink {
 public:
  virtual void write(std::string_view bytes) = 0;

 protected:
  ~EncoderSink() = default;
};

// One compressed stream, fed piece by piece: a body is never held whole. Each call hands
// out what the library has ready; the library keeps back what it still needs (its window).
// A false return means the library failed (out of memory): the stream is unusable.
class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual Encoding encoding() const = 0;
  // Compresses `input`; may write nothing yet.
  virtual bool write(std::string_view input, EncoderSink& out) = 0;
  // Writes everything given so far so that a decoder can read it now; the stream goes on.
  virtual bool flush(EncoderSink& out) = 0;
  // Ends the stream: writes the rest and the trailer.
  virtual bool finish(EncoderSink& out) = 0;
  // Starts a new stream at `level`, keeping the library's memory where it can.
  virtual bool reset(int level) = 0;
};

// A new encoder of `encoding` at `level`; null when the library could not set one up.
std::unique_ptr<Encoder> makeEncoder(Encoding encoding, int level);

}  // namespace compression
