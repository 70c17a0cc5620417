#include "common/ws/frame.h"

#include <cstring>

namespace ws {

namespace {
bool isKnownOpcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }
}  // namespace

FrameStatus parseFrameHeader(std::string_view data, FrameHeader* header) {
  if (data.size() < 2) {
    return FrameStatus::kIncomplete;
  }
  auto byte = [&data](size_t i) { return static_cast<uint8_t>(data[i]); };
  uint8_t b0 = byte(0);
  uint8_t b1 = byte(1);
  // No extension is ever negotiated, so every reserved bit must be clear.
  if ((b0 & 0x70) != 0 || !isKnownOpcode(b0 & 0x0F)) {
    return FrameStatus::kError;
  }
  header->fin = (b0 & 0x80) != 0;
  header->opcode = static_cast<Opcode>(b0 & 0x0F);
  header->masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (len == 126) {
    if (data.size() < 4) {
      return FrameStatus::kIncomplete;
    }
    len = (uint64_t{byte(2)} << 8) | byte(3);
    pos = 4;
  } else if (len == 127) {
    if (data.size() < 10) {
      return FrameStatus::kIncomplete;
    }
    len = 0;
    for (size_t i = 2; i < 10; ++i) {
      len = (len << 8) | byte(i);
    }
    if ((len >> 63) != 0) {
      return FrameStatus::kError;
    }
    pos = 10;
  }
  if (isControl(header->opcode) && (!header->fin || len > kMaxControlPayload)) {
    return FrameStatus::kError;
  }
  if (header->masked) {
    if (data.size() < pos + 4) {
      return FrameStatus::kIncomplete;
    }
    std::memcpy(header->mask.data(), data.data() + pos, 4);
    pos += 4;
  }
  header->payload_length = len;
  header->header_length = pos;
  return FrameStatus::kOk;
}

size_t encodeFrameHeader(char (&buf)[kMaxFrameHeader], Opcode opcode, uint64_t payload_length,
                         bool fin, const MaskKey* mask) {
  auto put = [&buf](size_t i, uint64_t v) { buf[i] = static_cast<char>(v & 0xFF); };
  put(0, (fin ? 0x80u : 0u) | static_cast<uint8_t>(opcode));
  uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  size_t pos;
  if (payload_length < 126) {
    put(1, mask_bit | payload_length);
    pos = 2;
  } else if (payload_length <= 0xFFFF) {
    put(1, mask_bit | 126u);
    put(2, payload_length >> 8);
    put(3, payload_length);
    pos = 4;
  } else {
    put(1, mask_bit | 127u);
    for (size_t i = 0; i < 8; ++i) {
      put(2 + i, payload_length >> (56 - 8 * i));
    }
    pos = 10;
  }
  if (mask != nullptr) {
    std::memcpy(buf + pos, mask->data(), 4);
    pos += 4;
  }
  return pos;
}

std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin, const MaskKey* mask) {
  char header[kMaxFrameHeader];
  size_t n = encodeFrameHeader(header, opcode, payload.size(), fin, mask);
  std::string frame;
  frame.reserve(n + payload.size());
  frame.append(header, n).append(payload);
  if (mask != nullptr) {
    applyMask(frame.data() + n, payload.size(), *mask);
  }
  return frame;
}

void applyMask(char* data, size_t len, const MaskKey& mask, size_t offset) {
  // Eight bytes at a time with the key repeated, rotated to where this piece starts.
  uint8_t key8[8];
  for (size_t i = 0; i < 8; ++i) {
    key8[i] = mask[(offset + i) & 3];
  }
  uint64_t word_key;
  std::memcpy(&word_key, key8, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= word_key;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < len; ++i) {
    data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ key8[i & 7]);
  }
}

std::string encodeClosePayload(uint16_t code, std::string_view reason) {
  constexpr size_t kMaxReason = kMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    size_t cut = kMaxReason;
    // Back up over continuation bytes so a character is never split.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return payload;
}

bool parseClosePayload(std::string_view payload, uint16_t* code, std::string_view* reason) {
  if (payload.empty()) {
    *code = kCloseNoStatus;
    *reason = {};
    return true;
  }
  if (payload.size() == 1) {
    return false;
  }
  *code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                static_cast<uint8_t>(payload[1]));
  *reason = payload.substr(2);
  return isSendableCloseCode(*code);
}

bool isSendableCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace ws
