#pragma once

// Header lists for the cache's unit tests, built as the codec builds them.

#include <initializer_list>
#include <string>
#include <utility>

#include "balancer/cache/fields.h"
#include "common/http/header_list.h"

namespace cache_test {

inline http::HeaderList headers(
    std::initializer_list<std::pair<std::string, std::string>> fields) {
  http::HeaderList list;
  for (const auto& [name, value] : fields) {
    list.appendName(name.data(), name.size());
    list.endName();
    list.appendValue(value.data(), value.size());
  }
  return list;
}

inline balancer::cache::Fields fields(
    std::initializer_list<std::pair<std::string, std::string>> list) {
  balancer::cache::Fields out;
  for (const auto& [name, value] : list) {
    out.push_back({name, value});
  }
  return out;
}

}  // namespace cache_test
