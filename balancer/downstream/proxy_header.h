#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace balancer {

// The PROXY protocol header (haproxy's proxy-protocol.txt, v1 text and v2 binary) that an L4
// balancer or a CDN sends first on a connection to say whose connection it relays.
struct ProxyHeader {
  enum class Status {
    kNeedMore,  // a valid beginning: read more (the bytes given are kept and given again)
    kInvalid,   // not a PROXY header, or a broken one: the connection is closed
    kDone,      // a whole header of `length` bytes; what follows it is the client's stream
  };
  Status status = Status::kNeedMore;
  size_t length = 0;
  // kDone: the client's address and port. Empty when the header names none that we use
  // (v2 LOCAL, a health check of the relay itself; v1 UNKNOWN; v2 UNSPEC, UDP or unix
  // addresses): the socket's own peer stays the client.
  std::optional<sockaddr_storage> source;
  const char* error = "";  // kInvalid: why, for the debug log
};

// v1's whole line, "PROXY ... \r\n", is at most 107 bytes (the spec's bound).
inline constexpr size_t kProxyV1MaxLength = 107;
// v2: a 16-byte fixed part, then addresses and TLVs of the length it gives. The spec allows
// up to 65535; relays send an address block (at most 216 bytes, unix) and a few TLVs, so a
// header longer than this is refused rather than buffered.
inline constexpr size_t kProxyV2FixedLength = 16;
inline constexpr size_t kProxyV2MaxPayload = 2048;

// Parses the header at the start of `bytes`, all that was read on the connection so far.
// Pure: no I/O, no allocation. Decides kInvalid as soon as the bytes cannot begin a header
// (a wrong first byte is enough), so a client that speaks HTTP or TLS first is told apart at
// once; never asks for more than the bounds above.
ProxyHeader parseProxyHeader(std::string_view bytes);

}  // namespace balancer
