#pragma once

#include <string_view>

namespace http {

// The standard reason phrase of a status code, or "Unknown".
std::string_view reasonPhrase(int status);

}  // namespace http
