#include "balancer/config/reader.h"

#include <unistd.h>

namespace balancer::config {

ConfigError Positions::error(const std::string& path, const std::string& message) const {
  auto it = marks_.find(path);
  if (it == marks_.end()) {
    return ConfigError{0, 0, message};
  }
  return ConfigError{it->second.line + 1, it->second.column + 1, message};
}

void Reader::error(const YAML::Node& at, const std::string& message) {
  YAML::Mark mark = at.Mark();
  errors.push_back(ConfigError{mark.line + 1, mark.column + 1, message});
}

std::optional<std::string> Reader::scalar(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    error(node, what + " must be a single value");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<Millis> Reader::duration(const YAML::Node& node, const std::string& what) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  std::string message;
  auto value = util::parseDuration(*text, &message);
  if (!value) {
    error(node, what + ": " + message);
  }
  return value;
}

std::optional<uint64_t> Reader::size(const YAML::Node& node, const std::string& what) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  std::string message;
  auto value = util::parseSize(*text, &message);
  if (!value) {
    error(node, what + ": " + message);
  }
  return value;
}

std::optional<int64_t> Reader::integer(const YAML::Node& node, const std::string& what,
                                       int64_t min, int64_t max,
                                       const std::string& alternative) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos ||
      text->size() > 12) {
    error(node, what + " must be a whole number" + (alternative.empty() ? "" : " " + alternative) +
                    ", got '" + *text + "'");
    return std::nullopt;
  }
  int64_t value = std::stoll(*text);
  if (value < min || value > max) {
    error(node, what + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + *text);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Reader::flag(const YAML::Node& node, const std::string& what) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  if (*text != "true" && *text != "false") {
    error(node, what + " must be true or false");
    return std::nullopt;
  }
  return *text == "true";
}

std::optional<util::SocketAddress> Reader::address(const YAML::Node& node,
                                                   const std::string& what) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  std::string message;
  auto value = util::parseSocketAddress(*text, &message);
  if (!value) {
    error(node, what + ": " + message);
  }
  return value;
}

std::vector<std::string> Reader::stringList(const YAML::Node& node, const std::string& what) {
  std::vector<std::string> out;
  if (!node.IsSequence()) {
    error(node, what + " must be a list");
    return out;
  }
  for (const auto& item : node) {
    if (auto s = scalar(item, what + " item")) {
      out.push_back(*s);
    }
  }
  return out;
}

std::string Reader::resolve(const std::string& path) const {
  return (!path.empty() && path.front() == '/') || base_dir.empty() ? path
                                                                     : base_dir + "/" + path;
}

std::optional<std::string> Reader::readableFile(const YAML::Node& node,
                                                const std::string& what) {
  auto text = scalar(node, what);
  if (!text) {
    return std::nullopt;
  }
  std::string path = resolve(*text);
  if (access(path.c_str(), R_OK) != 0) {
    error(node, what + ": cannot read '" + path + "'");
    return std::nullopt;
  }
  return path;
}

std::string formatDuration(Millis value) {
  int64_t ms = value.count();
  if (ms == 0) {
    return "0";
  }
  if (ms % 3600000 == 0) {
    return std::to_string(ms / 3600000) + "h";
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

std::string formatSize(uint64_t bytes) {
  const char* units[] = {"GiB", "MiB", "KiB"};
  uint64_t scale = 1024ull * 1024 * 1024;
  for (const char* unit : units) {
    if (bytes != 0 && bytes % scale == 0) {
      return std::to_string(bytes / scale) + unit;
    }
    scale /= 1024;
  }
  return std::to_string(bytes);
}

}  // namespace balancer::config
