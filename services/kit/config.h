#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/units.h"
#include "services/kit/setting.h"

namespace kit {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A service's settings, by dotted path ("database.url"), from three places, the first that
// has the key winning:
//   1. the command line: --set database.url=... (and --listen ADDR for listen)
//   2. the environment: SHOP_DATABASE_URL (SHOP_ + the path upper-cased, dots as '_')
//   3. the YAML file given with --config FILE
// then the default the service passes. Errors name FILE:LINE:COLUMN when the value came from
// the file, else the variable or flag.
class Config {
 public:
  // Parses argv: --config FILE, --listen ADDR, --set KEY=VALUE (repeatable), --help.
  // Throws ConfigError.
  static Config fromArgs(int argc, char** argv);
  static Config fromYaml(const std::string& text, std::string file_name = "<inline>");

  std::string string(std::string_view path, std::string_view fallback) const;
  int64_t integer(std::string_view path, int64_t fallback) const;
  bool boolean(std::string_view path, bool fallback) const;
  util::Millis duration(std::string_view path, util::Millis fallback) const;
  // A declared setting (setting.h): its value, or its default.
  std::string get(const Setting<std::string>& s) const { return string(s.path, s.fallback); }
  int64_t get(const Setting<int64_t>& s) const { return integer(s.path, s.fallback); }
  bool get(const Setting<bool>& s) const { return boolean(s.path, s.fallback); }
  util::Millis get(const Setting<util::Millis>& s) const { return duration(s.path, s.fallback); }
  // A YAML sequence of strings; from the environment or --set, a comma-separated list.
  std::vector<std::string> strings(std::string_view path) const;
  // The raw node for structured settings (lists of maps); undefined when absent. Only the
  // file supplies these.
  YAML::Node node(std::string_view path) const;
  bool has(std::string_view path) const;

  // Keys in the file that no one asked for: probably typos. Call after reading everything.
  std::vector<std::string> unusedFileKeys() const;

  const std::string& file() const { return file_; }

 private:
  struct Value {
    std::string text;
    std::string where;  // for errors
  };
  std::optional<Value> lookup(std::string_view path) const;
  [[noreturn]] void fail(const Value& v, std::string_view path, std::string_view what) const;

  std::string file_;
  YAML::Node root_;
  std::map<std::string, std::string, std::less<>> overrides_;  // --set
  mutable std::set<std::string, std::less<>> used_;
};

}  // namespace kit
