#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "balancer/config/config.h"

namespace balancer::config {

// Where each value of the file was read from, by its path ("listeners[0].name",
// "upstreams.app.health_check", "routes[2].rate_limit.scope"), so that validate() can report a
// cross-field error at the value it is about without walking the YAML again.
class Positions {
 public:
  void record(const std::string& path, const YAML::Node& node) { marks_[path] = node.Mark(); }
  bool has(const std::string& path) const { return marks_.count(path) != 0; }
  // An error at `path` (line and column 0 when nothing was read there).
  ConfigError error(const std::string& path, const std::string& message) const;

 private:
  std::map<std::string, YAML::Mark> marks_;
};

// Converts YAML values into typed ones, collecting each error with its line and column. A
// conversion that fails reports why and returns nullopt; the caller keeps its default.
// `what` names the value in messages ("timeouts.client_idle").
class Reader {
 public:
  std::vector<ConfigError> errors;
  Positions positions;
  std::string base_dir;  // relative file paths are resolved against it

  void error(const YAML::Node& at, const std::string& message);

  std::optional<std::string> scalar(const YAML::Node& node, const std::string& what);
  std::optional<Millis> duration(const YAML::Node& node, const std::string& what);
  std::optional<uint64_t> size(const YAML::Node& node, const std::string& what);
  // A whole number in [min, max]; `alternative` is named in the message ("or auto").
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& what, int64_t min,
                                 int64_t max, const std::string& alternative = "");
  std::optional<bool> flag(const YAML::Node& node, const std::string& what);
  std::optional<util::SocketAddress> address(const YAML::Node& node, const std::string& what);
  std::vector<std::string> stringList(const YAML::Node& node, const std::string& what);
  // `path` resolved against base_dir (absolute paths as written).
  std::string resolve(const std::string& path) const;
  // A file path, resolved, that must be readable now.
  std::optional<std::string> readableFile(const YAML::Node& node, const std::string& what);
};

// The texts a default is shown with: durations in h, s or ms ("1h", "60s", "50ms"), sizes in
// the largest binary unit that divides them ("32KiB").
std::string formatDuration(Millis value);
std::string formatSize(uint64_t bytes);

}  // namespace balancer::config
