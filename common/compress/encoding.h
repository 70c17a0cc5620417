#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace compression {

// The content codings the balancer can make (RFC 9110 8.4.1, RFC 7932, RFC 8878), as they are
// named in Accept-Encoding and Content-Encoding. Their values index per-encoding arrays.
enum class Encoding : uint8_t { kGzip, kBrotli, kZstd };
inline constexpr size_t kEncodingCount = 3;

// "gzip", "br", "zstd".
std::string_view encodingName(Encoding encoding);
// The coding a (lower-case or not) name stands for; "x-gzip" is gzip (RFC 9110 8.4.1.3).
std::optional<Encoding> parseEncoding(std::string_view name);

// The default level of each: fast enough that a worker compresses far quicker than it
// forwards (see README.md), and the highest level a configuration may set.
int defaultLevel(Encoding encoding);
int maxLevel(Encoding encoding);
int minLevel(Encoding encoding);

}  // namespace compression
