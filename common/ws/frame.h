#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ws {

// RFC 6455 5.2. Values 3-7 and 0xB-0xF are reserved and refused.
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

inline bool isControl(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x8) != 0; }

// Close codes (RFC 6455 7.4.1). 1005 and 1006 are only reported, never sent.
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseGoingAway = 1001;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseUnsupportedData = 1003;
constexpr uint16_t kCloseNoStatus = 1005;
constexpr uint16_t kCloseAbnormal = 1006;
constexpr uint16_t kCloseInvalidPayload = 1007;
constexpr uint16_t kClosePolicyViolation = 1008;
constexpr uint16_t kCloseMessageTooBig = 1009;
constexpr uint16_t kCloseInternalError = 1011;

constexpr size_t kMaxControlPayload = 125;
constexpr size_t kMaxFrameHeader = 14;  // 2 + 8 (64-bit length) + 4 (mask key)

using MaskKey = std::array<uint8_t, 4>;

struct FrameHeader {
  bool fin = true;
  Opcode opcode = Opcode::kText;
  bool masked = false;
  MaskKey mask{};
  uint64_t payload_length = 0;
  size_t header_length = 0;  // bytes before the payload: 2 to 14
};

enum class FrameStatus { kOk, kIncomplete, kError };

// Reads the header of the frame at the start of `data`. Returns kIncomplete when more bytes
// are needed, kError for a frame no endpoint may send (reserved bits without an extension,
// a reserved opcode, a fragmented or longer than 125 bytes control frame, a 64-bit length with
// its top bit set): the connection then fails with 1002. Whether a mask is required is the
// caller's to check, as it depends on the side.
FrameStatus parseFrameHeader(std::string_view data, FrameHeader* header);

// Writes a frame header into `buf` and returns its length. With a mask (clients only) the key
// follows the length, and the caller masks the payload; a server's frames have none.
size_t encodeFrameHeader(char (&buf)[kMaxFrameHeader], Opcode opcode, uint64_t payload_length,
                         bool fin = true, const MaskKey* mask = nullptr);
// A whole frame: header and payload (masked here when a mask is given).
std::string encodeFrame(Opcode opcode, std::string_view payload, bool fin = true,
                        const MaskKey* mask = nullptr);

// XORs `len` bytes with the mask; `offset` is the position of data[0] within the payload, so
// a payload can be unmasked in pieces. Masking and unmasking are the same operation.
void applyMask(char* data, size_t len, const MaskKey& mask, size_t offset = 0);

// The payload of a close frame: the code in network order, then the reason (at most 123
// bytes; a longer one is cut at a UTF-8 character boundary).
std::string encodeClosePayload(uint16_t code, std::string_view reason);
// Reads a close frame's payload. An empty one gives 1005 and no reason. Returns false for a
// 1-byte payload or a code no endpoint may send (1002); the reason's UTF-8 is not checked.
bool parseClosePayload(std::string_view payload, uint16_t* code, std::string_view* reason);
// Codes a close frame may carry: 1000-1003, 1007-1014 and 3000-4999.
bool isSendableCloseCode(uint16_t code);

}  // namespace ws
