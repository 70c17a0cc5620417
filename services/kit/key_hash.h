#pragma once

#include <string>
#include <string_view>

namespace kit {

// 32 hex digits: the first 128 bits of SHA-256 of `text`. For Redis keys made from client
// input (a search, an account name): a fixed size however long the input, and the input
// itself is not readable from the key.
std::string keyHash(std::string_view text);

}  // namespace kit
