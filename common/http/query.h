#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace http {

// One name=value of a query string, both still percent-encoded (views into the query).
struct QueryParam {
  std::string_view name;
  std::string_view value;  // empty for "name" without '='
};

// "a=1&b=&c" -> {a,1}, {b,}, {c,}; empty pieces ("a=1&&b=2") are skipped.
std::vector<QueryParam> splitQuery(std::string_view query);
// The raw (still encoded) value of the first `name`, or "" when absent.
std::string_view queryParam(std::string_view query, std::string_view name);
// application/x-www-form-urlencoded decoding: %XX and '+' as space. False on a bad escape.
bool percentDecode(std::string_view in, std::string* out);

// The value of a hexadecimal digit, or -1.
int hexValue(char c);

}  // namespace http
