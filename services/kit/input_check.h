#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kit {

// What a service accepts as text: well-formed UTF-8 without NUL. PostgreSQL refuses anything
// else with an error the service would answer 500 to (and five 500s eject a healthy backend
// from the balancer's pool), so bad bytes are refused at the door with 400 and the reason.
bool isCleanText(std::string_view text);

// Deepest JSON nesting a body may have: no API takes more than a few levels; deeper only
// costs memory and stack in whatever walks it later.
inline constexpr int kMaxJsonDepth = 32;

// The body as a JSON object, or nullopt with *error saying why (not JSON, not an object,
// nested too deep, a string or key that is not clean text). The parser itself refuses
// ill-formed UTF-8 and lone surrogates; NUL arrives as \u0000 and is refused here.
std::optional<nlohmann::json> readJsonObject(std::string_view body, std::string* error);

// The first problem with the parts of a request line and headers that services store or
// look up: each path segment and query parameter (percent-decoded) and Idempotency-Key must
// be clean text. "" when there is none. Checked by App before any handler runs.
std::string requestTextProblem(std::string_view path, std::string_view query,
                               std::string_view idempotency_key);

}  // namespace kit
