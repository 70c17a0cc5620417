#pragma once

#include <string>

namespace kit {

// A service setting declared once: its dotted path (also SHOP_<PATH> and --set PATH=...), its
// default and what it means. Read it with Config::get(); the default is written nowhere else.
// T is std::string, int64_t, bool or util::Millis.
template <typename T>
struct Setting {
  const char* path;
  T fallback;
  const char* meaning;
};

}  // namespace kit
