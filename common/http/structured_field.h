#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace http {

// Structured Field values (RFC 8941), the Dictionary only: what a cache needs to read a
// targeted cache-control field such as CDN-Cache-Control (RFC 9213 2.1). Parameters are
// parsed (they must be valid) and dropped; an inner list is kept as its type alone.
struct SfItem {
  enum class Type { kInteger, kDecimal, kString, kToken, kByteSequence, kBoolean, kInnerList };
  Type type = Type::kBoolean;
  int64_t integer = 0;  // kInteger
  bool boolean = true;  // kBoolean (a member without a value is true)
  std::string text;     // kString unescaped; kToken, kDecimal and kByteSequence as written
};

struct SfMember {
  std::string key;
  SfItem value;
};

// Parses a Dictionary field value (lines of a repeated field joined with ","): its members in
// order, a later duplicate key replacing the earlier one's value in place (RFC 8941 4.2.2).
// Nothing when the value is not a valid Dictionary: the field is then ignored as a whole.
// More than kSfMaxMembers members count as invalid (each key is compared with the earlier
// ones: a bound keeps that cheap whatever an origin sends).
constexpr size_t kSfMaxMembers = 64;
std::optional<std::vector<SfMember>> parseSfDictionary(std::string_view value);

}  // namespace http
