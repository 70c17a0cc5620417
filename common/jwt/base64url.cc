#include "common/jwt/base64url.h"

#include <array>
#include <cstdint>

namespace jwt {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> makeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) {
    entry = kInvalid;
  }
  for (uint8_t i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = i;
  }
  return table;
}
constexpr std::array<uint8_t, 256> kDecode = makeDecodeTable();
}  // namespace

bool decodeBase64Url(std::string_view text, std::string* out) {
  // A lone trailing character carries only 6 bits: never a whole byte.
  if (text.size() % 4 == 1) {
    return false;
  }
  out->clear();
  out->reserve(text.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    uint8_t value = kDecode[static_cast<unsigned char>(c)];
    if (value == kInvalid) {
      return false;
    }
    bits = (bits << 6) | value;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out->push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  // Leftover bits (2 or 4) must be zero in the canonical encoding.
  return (bits & ((1u << bit_count) - 1)) == 0;
}

std::string encodeBase64Url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    bit_count += 8;
    while (bit_count >= 6) {
      bit_count -= 6;
      out.push_back(kAlphabet[(bits >> bit_count) & 0x3f]);
    }
  }
  if (bit_count > 0) {
    out.push_back(kAlphabet[(bits << (6 - bit_count)) & 0x3f]);
  }
  return out;
}

}  // namespace jwt
