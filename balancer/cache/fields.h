#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/header_list.h"

namespace balancer::cache {

// A header field as a cached object keeps it (the wire's HeaderList points into a read buffer
// that is reused; a stored response owns its bytes).
struct Field {
  std::string name;
  std::string value;
};
using Fields = std::vector<Field>;

// Every line of the named field joined with ", " (RFC 9110 5.3: a list field sent on several
// lines means the same as one line). `found` says whether any line was there.
std::string combinedValue(const http::HeaderList& headers, std::string_view name,
                          bool* found = nullptr);
std::string combinedValue(const Fields& fields, std::string_view name, bool* found = nullptr);

// The members of a comma-separated list (RFC 9110 5.6.1), trimmed, empty members dropped.
// Commas inside a quoted string do not split.
std::vector<std::string_view> splitList(std::string_view value);

// The field value with optional whitespace around list commas and at the ends removed and
// runs of spaces/tabs collapsed to one space: "a ,  b" and "a, b" compare equal.
std::string normalizeValue(std::string_view value);

std::string toLower(std::string_view s);

}  // namespace balancer::cache
