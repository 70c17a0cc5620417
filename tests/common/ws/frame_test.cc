// ws::Frame codec and the UTF-8 check.
#include <catch2/catch.hpp>

#include <string>

#include "common/ws/frame.h"
#include "common/util/utf8.h"

using ws::FrameHeader;
using ws::FrameStatus;
using ws::Opcode;

namespace {
const ws::MaskKey kMask{0x37, 0xfa, 0x21, 0x3d};
}  // namespace

TEST_CASE("frame lengths take 7, 16 or 64 bits and round-trip") {
  for (size_t len : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536},
                     size_t{70000}}) {
    std::string payload(len, 'x');
    for (bool masked : {false, true}) {
      std::string frame =
          ws::encodeFrame(Opcode::kBinary, payload, true, masked ? &kMask : nullptr);
      size_t expected_header = (len < 126 ? 2 : len <= 65535 ? 4 : 10) + (masked ? 4 : 0);
      FrameHeader h;
      REQUIRE(ws::parseFrameHeader(frame, &h) == FrameStatus::kOk);
      CHECK(h.header_length == expected_header);
      CHECK(h.payload_length == len);
      CHECK(h.fin);
      CHECK(h.opcode == Opcode::kBinary);
      CHECK(h.masked == masked);
      REQUIRE(frame.size() == expected_header + len);
      std::string body = frame.substr(h.header_length);
      if (masked) {
        CHECK((len == 0 || body != payload));
        ws::applyMask(body.data(), body.size(), h.mask);
      }
      CHECK(body == payload);
      // Every proper prefix of the header asks for more.
      for (size_t cut = 0; cut < expected_header; ++cut) {
        CHECK(ws::parseFrameHeader(std::string_view(frame).substr(0, cut), &h) ==
              FrameStatus::kIncomplete);
      }
    }
  }
}

TEST_CASE("the 16-bit length is big-endian and server frames are never masked") {
  std::string frame = ws::encodeFrame(Opcode::kText, std::string(300, 'a'));
  CHECK(static_cast<uint8_t>(frame[0]) == 0x81);
  CHECK(static_cast<uint8_t>(frame[1]) == 126);
  CHECK(static_cast<uint8_t>(frame[2]) == 0x01);
  CHECK(static_cast<uint8_t>(frame[3]) == 0x2c);
  std::string small = ws::encodeFrame(Opcode::kPong, "hi", true);
  CHECK(small == std::string("\x8a\x02hi", 4));
}

TEST_CASE("RFC 6455's masked 'Hello' example") {
  const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  FrameHeader h;
  REQUIRE(ws::parseFrameHeader(frame, &h) == FrameStatus::kOk);
  CHECK(h.masked);
  CHECK(h.mask == kMask);
  std::string body = frame.substr(h.header_length);
  ws::applyMask(body.data(), body.size(), h.mask);
  CHECK(body == "Hello");
  CHECK(ws::encodeFrame(Opcode::kText, "Hello", true, &kMask) == frame);
}

TEST_CASE("masking in pieces equals masking at once") {
  std::string data = "The quick brown fox jumps over the lazy dog, twice over.";
  std::string whole = data;
  ws::applyMask(whole.data(), whole.size(), kMask);
  std::string pieces = data;
  ws::applyMask(pieces.data(), 3, kMask, 0);
  ws::applyMask(pieces.data() + 3, 17, kMask, 3);
  ws::applyMask(pieces.data() + 20, pieces.size() - 20, kMask, 20);
  CHECK(pieces == whole);
}

TEST_CASE("frames no endpoint may send are refused") {
  FrameHeader h;
  auto parse = [&h](std::string bytes) { return ws::parseFrameHeader(bytes, &h); };
  CHECK(parse(std::string("\xc1\x00", 2)) == FrameStatus::kError);          // RSV1
  CHECK(parse(std::string("\xa1\x00", 2)) == FrameStatus::kError);          // RSV2
  CHECK(parse(std::string("\x91\x00", 2)) == FrameStatus::kError);          // RSV3
  CHECK(parse(std::string("\x83\x00", 2)) == FrameStatus::kError);          // opcode 3
  CHECK(parse(std::string("\x8b\x00", 2)) == FrameStatus::kError);          // opcode 0xB
  CHECK(parse(std::string("\x09\x00", 2)) == FrameStatus::kError);          // fragmented ping
  CHECK(parse(std::string("\x89\x7e\x00\x7e", 4)) == FrameStatus::kError);  // 126-byte ping
  CHECK(parse(std::string("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10)) ==
        FrameStatus::kError);  // 64-bit length with the top bit set
  CHECK(parse(std::string("\x89\x7d", 2)) == FrameStatus::kOk);  // a 125-byte ping is fine
  CHECK(h.payload_length == 125);
  CHECK(parse(std::string("\x00\x00", 2)) == FrameStatus::kOk);  // a continuation
  CHECK_FALSE(h.fin);
  CHECK(h.opcode == Opcode::kContinuation);
}

TEST_CASE("close payloads: code and reason, invalid codes, long reasons cut") {
  std::string p = ws::encodeClosePayload(1000, "done");
  CHECK(p == std::string("\x03\xe8"
                         "done",
                         6));
  uint16_t code = 0;
  std::string_view reason;
  REQUIRE(ws::parseClosePayload(p, &code, &reason));
  CHECK(code == 1000);
  CHECK(reason == "done");
  REQUIRE(ws::parseClosePayload("", &code, &reason));
  CHECK(code == ws::kCloseNoStatus);
  CHECK_FALSE(ws::parseClosePayload("\x03", &code, &reason));
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1100, 2999, 5000}) {
    CHECK_FALSE(ws::parseClosePayload(ws::encodeClosePayload(bad, ""), &code, &reason));
  }
  for (uint16_t good : {1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999}) {
    CHECK(ws::parseClosePayload(ws::encodeClosePayload(good, ""), &code, &reason));
  }
  // 122 ASCII bytes and a 2-byte character: the character would straddle the limit.
  std::string long_reason = std::string(122, 'a') + "\xc3\xa9" + "tail";
  std::string cut = ws::encodeClosePayload(1000, long_reason);
  CHECK(cut.size() == 2 + 122);
  CHECK(util::isValidUtf8(cut.substr(2)));
}

TEST_CASE("UTF-8: well-formed text passes, everything else fails") {
  CHECK(util::isValidUtf8(""));
  CHECK(util::isValidUtf8("plain ASCII, long enough for the eight-byte path"));
  CHECK(util::isValidUtf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  CHECK(util::isValidUtf8("\xed\x9f\xbf"));            // U+D7FF, just below the surrogates
  CHECK_FALSE(util::isValidUtf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(util::isValidUtf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  CHECK_FALSE(util::isValidUtf8("\xf0\x80\x80\xaf"));  // overlong, 4 bytes
  CHECK_FALSE(util::isValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  CHECK_FALSE(util::isValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(util::isValidUtf8("\xf5\x80\x80\x80"));
  CHECK_FALSE(util::isValidUtf8("\xff"));
  CHECK_FALSE(util::isValidUtf8("\x80"));           // a lone continuation byte
  CHECK_FALSE(util::isValidUtf8("abc\xe2\x82"));    // cut short
  CHECK_FALSE(util::isValidUtf8("abcdefgh\xc3("));  // bad continuation after the fast path
}
