// Each encoder against the reference decoder of its library: what comes out decodes to what
// went in, byte for byte, however the input was cut.

#include "common/compress/encoder.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>

#include "common/compress/encoder_pool.h"

using compression::Encoder;
using compression::Encoding;

namespace {

class StringSink final : public compression::EncoderSink {
 public:
  void write(std::string_view bytes) override {
    ++writes;
    data.append(bytes);
  }
  std::string data;
  int writes = 0;
};

std::string gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      break;  // a flushed, unfinished stream: all there is so far
    }
  }
  inflateEnd(&z);
  REQUIRE((rc == Z_STREAM_END || rc == Z_BUF_ERROR));
  return out;
}

std::string unbrotli(const std::string& in) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
  size_t avail_in = in.size();
  std::string out;
  BrotliDecoderResult rc = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
    uint8_t buf[4096];
    uint8_t* next_out = buf;
    size_t avail_out = sizeof(buf);
    rc = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof(buf) - avail_out);
  }
  BrotliDecoderDestroyInstance(s);
  REQUIRE((rc == BROTLI_DECODER_RESULT_SUCCESS || rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT));
  return out;
}

std::string unzstd(const std::string& in) {
  ZSTD_DStream* d = ZSTD_createDStream();
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string out;
  char buf[4096];
  for (;;) {
    ZSTD_outBuffer o{buf, sizeof(buf), 0};
    size_t rc = ZSTD_decompressStream(d, &o, &input);
    REQUIRE_FALSE(ZSTD_isError(rc));
    out.append(buf, o.pos);
    if (input.pos == input.size && o.pos < o.size) {
      break;
    }
  }
  ZSTD_freeDStream(d);
  return out;
}

std::string decode(Encoding encoding, const std::string& in) {
  switch (encoding) {
    case Encoding::kGzip:
      return gunzip(in);
    case Encoding::kBrotli:
      return unbrotli(in);
    case Encoding::kZstd:
      return unzstd(in);
  }
  return {};
}

// Text that compresses as JSON does: repeated keys, varying values.
std::string jsonish(size_t size, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::string s = "[";
  while (s.size() < size) {
    s += "{\"id\":" + std::to_string(rng() % 100000) + ",\"name\":\"product " +
         std::to_string(rng() % 1000) + "\",\"price\":" + std::to_string(rng() % 10000) + "},";
  }
  s.resize(size);
  return s;
}

std::string compressWhole(Encoder& e, std::string_view input, size_t piece) {
  StringSink sink;
  for (size_t at = 0; at < input.size(); at += piece) {
    REQUIRE(e.write(input.substr(at, piece), sink));
  }
  REQUIRE(e.finish(sink));
  return sink.data;
}

}  // namespace

TEST_CASE("each encoder round-trips a body in one piece, in many small ones, and empty",
          "[compress]") {
  auto encoding = GENERATE(Encoding::kGzip, Encoding::kBrotli, Encoding::kZstd);
  INFO(compression::encodingName(encoding));
  std::string body = jsonish(300 * 1024);
  {
    auto e = compression::makeEncoder(encoding, compression::defaultLevel(encoding));
    REQUIRE(e);
    CHECK(e->encoding() == encoding);
    std::string packed = compressWhole(*e, body, body.size());
    CHECK(packed.size() < body.size() / 3);
    CHECK(decode(encoding, packed) == body);
  }
  for (size_t piece : {1, 7, 100, 4096}) {
    INFO("pieces of " << piece);
    auto e = compression::makeEncoder(encoding, compression::defaultLevel(encoding));
    std::string part = body.substr(0, piece == 1 ? 20000 : body.size());
    CHECK(decode(encoding, compressWhole(*e, part, piece)) == part);
  }
  auto e = compression::makeEncoder(encoding, 1);
  std::string empty = compressWhole(*e, {}, 1);
  CHECK_FALSE(empty.empty());  // a valid stream of nothing
  CHECK(decode(encoding, empty).empty());
}

TEST_CASE("each encoder keeps its output bounded: a large body comes out as it goes in",
          "[compress]") {
  auto encoding = GENERATE(Encoding::kGzip, Encoding::kBrotli, Encoding::kZstd);
  INFO(compression::encodingName(encoding));
  auto e = compression::makeEncoder(encoding, compression::defaultLevel(encoding));
  std::mt19937 rng(7);
  std::string noise(64 * 1024, '\0');  // incompressible: output keeps pace with input
  StringSink sink;
  std::string all;
  for (int i = 0; i < 64; ++i) {
    for (char& c : noise) {
      c = static_cast<char>(rng());
    }
    all += noise;
    REQUIRE(e->write(noise, sink));
  }
  // Most of 4 MiB went out before the end: the encoder did not hold the body.
  CHECK(sink.data.size() > 3 * 1024 * 1024);
  REQUIRE(e->finish(sink));
  CHECK(decode(encoding, sink.data) == all);
}

TEST_CASE("flush makes what was written so far decodable", "[compress]") {
  auto encoding = GENERATE(Encoding::kGzip, Encoding::kBrotli, Encoding::kZstd);
  INFO(compression::encodingName(encoding));
  auto e = compression::makeEncoder(encoding, compression::defaultLevel(encoding));
  StringSink sink;
  REQUIRE(e->write("data: first event\n\n", sink));
  REQUIRE(e->flush(sink));
  CHECK(decode(encoding, sink.data) == "data: first event\n\n");
  REQUIRE(e->write("data: second\n\n", sink));
  REQUIRE(e->finish(sink));
  CHECK(decode(encoding, sink.data) == "data: first event\n\ndata: second\n\n");
}

TEST_CASE("a reset encoder makes a fresh stream, at its new level", "[compress]") {
  auto encoding = GENERATE(Encoding::kGzip, Encoding::kBrotli, Encoding::kZstd);
  INFO(compression::encodingName(encoding));
  std::string body = jsonish(50000, 3);
  auto e = compression::makeEncoder(encoding, 1);
  std::string first = compressWhole(*e, body, 1000);
  REQUIRE(e->reset(compression::maxLevel(encoding)));
  std::string second = compressWhole(*e, body, 1000);
  CHECK(decode(encoding, second) == body);
  CHECK(second.size() < first.size());  // the higher level took
  // Reset halfway through a stream: nothing of the old one leaks in.
  StringSink partial;
  REQUIRE(e->reset(3));
  REQUIRE(e->write(body.substr(0, 30000), partial));
  REQUIRE(e->reset(3));
  CHECK(decode(encoding, compressWhole(*e, "fresh", 5)) == "fresh");
}

TEST_CASE("the pool hands back released encoders instead of making new ones", "[compress]") {
  compression::EncoderPool pool(2);
  auto a = pool.acquire(Encoding::kGzip, 5);
  auto b = pool.acquire(Encoding::kGzip, 5);
  auto c = pool.acquire(Encoding::kGzip, 5);
  REQUIRE((a && b && c));
  CHECK(pool.made() == 3);
  Encoder* kept = a.get();
  StringSink sink;
  REQUIRE(a->write("half a stream", sink));  // released unfinished: reset when taken again
  pool.release(std::move(a));
  pool.release(std::move(b));
  pool.release(std::move(c));  // over the limit of 2: freed
  CHECK(pool.idle(Encoding::kGzip) == 2);
  CHECK(pool.idle(Encoding::kZstd) == 0);
  auto again = pool.acquire(Encoding::kGzip, 1);
  auto again2 = pool.acquire(Encoding::kGzip, 1);
  CHECK((again.get() == kept || again2.get() == kept));
  CHECK(pool.made() == 3);
  CHECK(decode(Encoding::kGzip, compressWhole(*again, "abc", 1)) == "abc");
  auto zstd = pool.acquire(Encoding::kZstd, 3);
  CHECK(zstd->encoding() == Encoding::kZstd);
  CHECK(pool.made() == 4);
}
