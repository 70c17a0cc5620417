#pragma once

#include <string_view>

namespace ws {

// True when `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF, no sequence cut short. A text message must be (RFC 6455 8.1), else 1007.
bool isValidUtf8(std::string_view text);

}  // namespace ws
