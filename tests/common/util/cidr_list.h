#pragma once

// Networks from their text, for tests of what allow/deny and trusted_proxies decide.

#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/util/cidr.h"

namespace util_test {

inline std::vector<util::Cidr> nets(std::initializer_list<const char*> texts) {
  std::vector<util::Cidr> out;
  for (const char* t : texts) {
    std::string why;
    auto cidr = util::Cidr::parse(t, &why);
    REQUIRE(cidr);
    out.push_back(*cidr);
  }
  return out;
}

}  // namespace util_test
