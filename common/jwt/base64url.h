#pragma once

#include <string>
#include <string_view>

namespace jwt {

// Decodes unpadded base64url (RFC 4648 section 5), as JWS segments use it. Accepts only the
// alphabet A-Z a-z 0-9 - _, no padding, no whitespace, and only the canonical form (unused
// low bits of the last character are zero), so one byte string has exactly one encoding.
// Returns false on anything else; *out then holds no meaningful value. *out is overwritten
// rather than reallocated when it already has the capacity.
bool decodeBase64Url(std::string_view text, std::string* out);

// Encodes bytes as unpadded base64url.
std::string encodeBase64Url(std::string_view bytes);

}  // namespace jwt
