#pragma once

#include <string_view>

namespace util {

// True when `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF, no sequence cut short. WebSocket text (RFC 6455 8.1, else 1007) and
// PostgreSQL text (its UTF8 encoding refuses anything else) must be.
bool isValidUtf8(std::string_view text);

}  // namespace util
